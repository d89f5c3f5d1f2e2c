import { stringify } from 'yaml';

/**
 * A Kubeflow Pipelines pipeline in the v2 intermediate representation (a PipelineSpec, as the KFP
 * SDK compiles it, plus the kfp-kubernetes PlatformSpec that puts Secrets into the environment).
 * Every step is a container running one of our service CLIs in that service's image:
 *   seed-data → validate-data → train (submit and wait) → evaluate (versions) → gate-decision (audit)
 * The registry registers and gates a version by itself when training completes, so the last step
 * reports its decision rather than registering anything.
 */
type ParamType = 'STRING' | 'NUMBER_INTEGER';

export interface PipelineOptions {
  /** Image registry; each step runs `<registry>/<service>:<tag>`. */
  registry: string;
  tag: string;
  name?: string;
  natsUrl: string;
  busNamespace: string;
  s3Endpoint: string;
  s3Bucket: string;
  registryUrl: string;
  /** Secret with keys S3_ACCESS_KEY and S3_SECRET_KEY, as for the chart. */
  objectStoreSecret: string;
  /** Secret of the NATS users' passwords, as for the chart (nats.auth.existingSecret): the train step logs in as `jobs-cli`. Unset: no user. */
  natsSecret?: string | undefined;
  /**
   * Secret with key `token`: a viewer token for the registry steps, which the registry asks for when
   * anonymous reads are off (the chart's default). The chart's bootstrap Job fills
   * `<release>-gateway-registry-token` with one. Unset: the steps read anonymously.
   */
  registryTokenSecret?: string | undefined;
}

interface Step {
  name: string;
  service: string;
  cli: string;
  args: string[];
  params: Record<string, { type: ParamType; default: string | number }>;
  /** Which configuration the CLI reads: the bus, the object store, the registry's URL. */
  needs: ('bus' | 'store' | 'registry')[];
  after?: string;
}

const param = (name: string) => `{{$.inputs.parameters['${name}']}}`;
const DATASET = { type: 'STRING', default: 'mnist' } as const;
const BATCH = { type: 'STRING', default: 'kfp' } as const;
const MODEL = { type: 'STRING', default: 'mnist' } as const;

const STEPS: Step[] = [
  { name: 'seed-data', service: 'dataset-watcher', cli: 'cli.ts', args: ['seed', param('dataset'), '--batch-name', param('batch')], params: { dataset: DATASET, batch: BATCH }, needs: ['store'] },
  // The same rules the watcher applies, so a bad batch stops the run here with the reasons printed.
  { name: 'validate-data', service: 'dataset-watcher', cli: 'cli.ts', args: ['validate', `incoming/${param('batch')}-train/`], params: { batch: BATCH }, needs: ['store'], after: 'seed-data' },
  {
    name: 'train',
    service: 'orchestrator',
    cli: 'cli.ts',
    args: ['submit', '--model', param('model'), '--dataset', param('dataset'), '--arch', param('arch'), '--epochs', param('epochs'), '--reason', 'kubeflow pipeline run', '--wait'],
    params: { model: MODEL, dataset: DATASET, arch: { type: 'STRING', default: 'cnn-small' }, epochs: { type: 'NUMBER_INTEGER', default: 3 } },
    needs: ['bus'],
    after: 'validate-data',
  },
  { name: 'evaluate', service: 'registry', cli: 'cli.ts', args: ['versions', param('model')], params: { model: MODEL }, needs: ['registry'], after: 'train' },
  { name: 'gate-decision', service: 'registry', cli: 'cli.ts', args: ['audit', param('model')], params: { model: MODEL }, needs: ['registry'], after: 'evaluate' },
];

export const STEP_NAMES = STEPS.map((s) => s.name);

function env(step: Step, o: PipelineOptions): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  if (step.needs.includes('bus')) out.push({ name: 'NATS_URL', value: o.natsUrl }, { name: 'BUS_NAMESPACE', value: o.busNamespace }, ...(o.natsSecret ? [{ name: 'NATS_USER', value: 'jobs-cli' }] : []));
  if (step.needs.includes('store')) out.push({ name: 'STORE_KIND', value: 's3' }, { name: 'S3_ENDPOINT', value: o.s3Endpoint }, { name: 'S3_BUCKET', value: o.s3Bucket });
  if (step.needs.includes('registry')) out.push({ name: 'REGISTRY_URL', value: o.registryUrl });
  return out;
}

export function compilePipeline(o: PipelineOptions) {
  const rootParams: Record<string, { parameterType: ParamType; defaultValue: string | number }> = {};
  for (const s of STEPS) for (const [k, p] of Object.entries(s.params)) rootParams[k] = { parameterType: p.type, defaultValue: p.default };
  const pipelineSpec = {
    pipelineInfo: { name: o.name ?? 'mlpipe-train', description: 'Seed and validate data, train, evaluate and report the registry gate for an mlpipe model' },
    sdkVersion: 'mlpipe-0.1.0',
    schemaVersion: '2.1.0',
    components: Object.fromEntries(
      STEPS.map((s) => [
        `comp-${s.name}`,
        { executorLabel: `exec-${s.name}`, inputDefinitions: { parameters: Object.fromEntries(Object.entries(s.params).map(([k, p]) => [k, { parameterType: p.type }])) } },
      ]),
    ),
    deploymentSpec: {
      executors: Object.fromEntries(
        STEPS.map((s) => [
          `exec-${s.name}`,
          { container: { image: `${o.registry}/${s.service}:${o.tag}`, command: ['node', '--import', 'tsx', `services/${s.service}/src/${s.cli}`], args: s.args, env: env(s, o) } },
        ]),
      ),
    },
    root: {
      dag: {
        tasks: Object.fromEntries(
          STEPS.map((s) => [
            s.name,
            {
              taskInfo: { name: s.name },
              componentRef: { name: `comp-${s.name}` },
              ...(s.after ? { dependentTasks: [s.after] } : {}),
              inputs: { parameters: Object.fromEntries(Object.keys(s.params).map((k) => [k, { componentInputParameter: k }])) },
            },
          ]),
        ),
      },
      inputDefinitions: { parameters: rootParams },
    },
  };
  const storeSecret = { secretName: o.objectStoreSecret, keyToEnv: ['S3_ACCESS_KEY', 'S3_SECRET_KEY'].map((k) => ({ secretKey: k, envVar: k })) };
  const natsSecret = o.natsSecret ? { secretName: o.natsSecret, keyToEnv: [{ secretKey: 'jobs-cli', envVar: 'NATS_PASSWORD' }] } : undefined;
  const registryToken = o.registryTokenSecret ? { secretName: o.registryTokenSecret, keyToEnv: [{ secretKey: 'token', envVar: 'MLPIPE_TOKEN' }] } : undefined;
  const secretsOf = (s: Step) => [
    ...(s.needs.includes('store') ? [storeSecret] : []),
    ...(s.needs.includes('bus') && natsSecret ? [natsSecret] : []),
    ...(s.needs.includes('registry') && registryToken ? [registryToken] : []),
  ];
  const platformSpec = {
    platforms: {
      kubernetes: {
        deploymentSpec: { executors: Object.fromEntries(STEPS.filter((s) => secretsOf(s).length).map((s) => [`exec-${s.name}`, { secretAsEnv: secretsOf(s) }])) },
      },
    },
  };
  return { pipelineSpec, platformSpec };
}

export type CompiledPipeline = ReturnType<typeof compilePipeline>;

/** The file KFP takes: the PipelineSpec, then the PlatformSpec as a second YAML document. */
export function pipelineYaml(p: CompiledPipeline): string {
  return `${stringify(p.pipelineSpec)}---\n${stringify(p.platformSpec)}`;
}
