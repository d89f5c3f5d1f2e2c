import { ValidationError } from '@mlpipe/common';

/**
 * Kubeflow Trainer objects for mlpipe: our ClusterTrainingRuntime (the trainer image, the NATS
 * address and object store by env) and a TrainJob that runs one orchestrator job by id. Plain
 * objects; the CLI prints them as YAML and the chart renders the same runtime (a test compares).
 */
export interface RuntimeOptions {
  name: string;
  image: string;
  natsUrl: string;
  busNamespace: string;
  s3Endpoint: string;
  s3Bucket: string;
  /** Secret with keys S3_ACCESS_KEY and S3_SECRET_KEY. */
  objectStoreSecret: string;
  logLevel: string;
  /** Secret holding each NATS user's password under the user's name; the pods log in as "trainer". Unset: a NATS without users. */
  natsSecret?: string | undefined;
  /** Requests and limits of each trainer pod (default DEFAULT_TRAINER_RESOURCES). */
  resources?: TrainerResources | undefined;
}

export interface TrainerResources {
  requests: { cpu: string; memory: string };
  limits: { cpu?: string; memory: string };
}

/** A trainer pod's share of a node: the same as a trainer Deployment replica's (values.yaml kubeflow.resources). */
export const DEFAULT_TRAINER_RESOURCES: TrainerResources = { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '2', memory: '4Gi' } };
export const DEFAULT_NATS_SECRET = 'mlpipe-nats-users';

export const DEFAULT_RUNTIME = 'mlpipe-trainer';
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** Kubeflow Trainer overrides the image, command and args of the container of this step. */
const NODE = 'node';

/**
 * A TrainJob's replicas spread over nodes, then zones (docs/deploy.md#trainer-replicas-across-nodes):
 * replicas on one node share its CPU and its link, and one node lost takes them all. Counted per
 * TrainJob (its JobSet's name); ScheduleAnyway, because a job must never wait for nodes the cluster
 * does not have: the coordinator starts with whoever came (TRAINER_JOIN_WINDOW_MS).
 */
export const TRAINER_SPREAD = ['kubernetes.io/hostname', 'topology.kubernetes.io/zone'].map((topologyKey) => ({
  maxSkew: 1,
  topologyKey,
  whenUnsatisfiable: 'ScheduleAnyway',
  labelSelector: { matchExpressions: [{ key: 'jobset.sigs.k8s.io/jobset-name', operator: 'Exists' }] },
  matchLabelKeys: ['jobset.sigs.k8s.io/jobset-name'],
}));

export function renderTrainingRuntime(o: RuntimeOptions, labels: Record<string, string> = {}) {
  const container = {
    name: NODE,
    image: o.image,
    env: [
      { name: 'NATS_URL', value: o.natsUrl },
      ...(o.natsSecret
        ? [
            { name: 'NATS_USER', value: 'trainer' },
            { name: 'NATS_PASSWORD', valueFrom: { secretKeyRef: { name: o.natsSecret, key: 'trainer' } } },
          ]
        : []),
      { name: 'BUS_NAMESPACE', value: o.busNamespace },
      { name: 'STORE_KIND', value: 's3' },
      { name: 'S3_ENDPOINT', value: o.s3Endpoint },
      { name: 'S3_BUCKET', value: o.s3Bucket },
      { name: 'S3_ACCESS_KEY', valueFrom: { secretKeyRef: { name: o.objectStoreSecret, key: 'S3_ACCESS_KEY' } } },
      { name: 'S3_SECRET_KEY', valueFrom: { secretKeyRef: { name: o.objectStoreSecret, key: 'S3_SECRET_KEY' } } },
      { name: 'LOG_LEVEL', value: o.logLevel },
      // The pod name, so progress events and logs name the replica that trained.
      { name: 'TRAINER_REPLICA_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ],
    resources: o.resources ?? DEFAULT_TRAINER_RESOURCES,
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
  };
  return {
    apiVersion: 'trainer.kubeflow.org/v1alpha1',
    kind: 'ClusterTrainingRuntime',
    metadata: { name: o.name, labels },
    spec: {
      mlPolicy: { numNodes: 1 },
      template: {
        spec: {
          replicatedJobs: [
            {
              name: NODE,
              replicas: 1,
              template: {
                metadata: { labels: { 'trainer.kubeflow.org/trainjob-ancestor-step': 'trainer' } },
                spec: {
                  template: {
                    spec: {
                      restartPolicy: 'OnFailure',
                      securityContext: { runAsNonRoot: true, runAsUser: 1000 },
                      topologySpreadConstraints: TRAINER_SPREAD,
                      containers: [container],
                    },
                  },
                },
              },
            },
          ],
        },
      },
    },
  };
}

export interface TrainJobOptions {
  jobId: string;
  replicas: number;
  image?: string;
  runtime?: string;
  namespace?: string;
}

/** Kubernetes names: lower-case, digits and "-", ≤ 63 characters, starting with a letter (the TrainJob CEL rule). */
export function trainJobName(jobId: string): string {
  const name = `mlpipe-${jobId.toLowerCase().replace(/[^a-z0-9-]+/g, '-')}`.slice(0, 63).replace(/-+$/, '');
  if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name)) throw new ValidationError(`job id "${jobId}" cannot be made into a TrainJob name`);
  return name;
}

/**
 * A TrainJob whose pods run `trainer/src/main.ts --job-id ID --rank R`: each asks the orchestrator
 * for the job over NATS and trains it as rank R of its data-parallel group (rank 0 coordinates and
 * reports). numNodes is the replica count; each node's rank is its index in the indexed Job that
 * Kubeflow's JobSet creates (JOB_COMPLETION_INDEX, expanded by Kubernetes in the args).
 */
export function renderTrainJob(o: TrainJobOptions) {
  if (!Number.isInteger(o.replicas) || o.replicas < 1 || o.replicas > 64) throw new ValidationError(`--replicas must be a whole number from 1 to 64, got ${o.replicas}`);
  if (!o.jobId.trim()) throw new ValidationError('--job-id is empty');
  return {
    apiVersion: 'trainer.kubeflow.org/v1alpha1',
    kind: 'TrainJob',
    metadata: {
      name: trainJobName(o.jobId),
      ...(o.namespace ? { namespace: o.namespace } : {}),
      labels: { 'app.kubernetes.io/part-of': 'mlpipe', ...(LABEL_VALUE.test(o.jobId) ? { 'mlpipe.io/job-id': o.jobId } : {}) },
    },
    spec: {
      runtimeRef: { apiGroup: 'trainer.kubeflow.org', kind: 'ClusterTrainingRuntime', name: o.runtime ?? DEFAULT_RUNTIME },
      trainer: {
        numNodes: o.replicas,
        ...(o.image ? { image: o.image } : {}),
        command: ['node', '--import', 'tsx', 'services/trainer/src/main.ts'],
        args: ['--job-id', o.jobId, '--rank', o.replicas > 1 ? '$(JOB_COMPLETION_INDEX)' : '0'],
      },
    },
  };
}
