/**
 * Kubeflow Trainer objects for mlpipe: our ClusterTrainingRuntime (the trainer image, NATS address
 * by env) and a TrainJob that runs one orchestrator job by id. Plain objects; the CLI prints YAML.
 */
export interface RuntimeOptions {
  image: string;
  natsUrl: string;
  busNamespace: string;
  s3Endpoint: string;
  s3Bucket: string;
  /** Secret with S3_ACCESS_KEY and S3_SECRET_KEY. */
  objectStoreSecret: string;
}

export const RUNTIME_NAME = 'mlpipe-trainer';

export function renderTrainingRuntime(o: RuntimeOptions, labels: Record<string, string> = {}) {
  return {
    apiVersion: 'trainer.kubeflow.org/v1alpha1',
    kind: 'ClusterTrainingRuntime',
    metadata: { name: RUNTIME_NAME, labels },
    spec: {
      mlPolicy: { numNodes: 1 },
      template: {
        spec: {
          replicatedJobs: [
            {
              name: 'node',
              replicas: 1,
              template: {
                metadata: { labels: { 'trainer.kubeflow.org/trainjob-ancestor-step': 'trainer' } },
                spec: {
                  template: {
                    spec: {
                      restartPolicy: 'OnFailure',
                      containers: [
                        {
                          name: 'node',
                          image: o.image,
                          env: [
                            { name: 'NATS_URL', value: o.natsUrl },
                            { name: 'BUS_NAMESPACE', value: o.busNamespace },
                            { name: 'STORE_KIND', value: 's3' },
                            { name: 'S3_ENDPOINT', value: o.s3Endpoint },
                            { name: 'S3_BUCKET', value: o.s3Bucket },
                            { name: 'S3_ACCESS_KEY', valueFrom: { secretKeyRef: { name: o.objectStoreSecret, key: 'S3_ACCESS_KEY' } } },
                            { name: 'S3_SECRET_KEY', valueFrom: { secretKeyRef: { name: o.objectStoreSecret, key: 'S3_SECRET_KEY' } } },
                          ],
                        },
                      ],
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
}

/** Kubernetes names: lower-case, digits and "-", ≤ 63 characters, starting with a letter (the TrainJob CEL rule). */
export function trainJobName(jobId: string): string {
  const name = `mlpipe-${jobId.toLowerCase().replace(/[^a-z0-9-]+/g, '-')}`.replace(/-+$/, '').slice(0, 63).replace(/-+$/, '');
  if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name)) throw new Error(`job id "${jobId}" cannot be made into a TrainJob name`);
  return name;
}

export function renderTrainJob(o: TrainJobOptions) {
  if (!Number.isInteger(o.replicas) || o.replicas < 1) throw new Error('--replicas must be a whole number ≥ 1');
  if (o.replicas > 1) {
    throw new Error('--replicas > 1 needs data-parallel training across trainer pods, which this version does not ship yet');
  }
  return {
    apiVersion: 'trainer.kubeflow.org/v1alpha1',
    kind: 'TrainJob',
    metadata: { name: trainJobName(o.jobId), labels: { 'app.kubernetes.io/part-of': 'mlpipe', 'mlpipe.io/job-id': o.jobId } },
    spec: {
      runtimeRef: { apiGroup: 'trainer.kubeflow.org', kind: 'ClusterTrainingRuntime', name: RUNTIME_NAME },
      trainer: {
        numNodes: o.replicas,
        ...(o.image ? { image: o.image } : {}),
        command: ['node', '--import', 'tsx', 'services/trainer/src/main.ts'],
        args: ['--job-id', o.jobId],
      },
    },
  };
}
