import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { ValidationError, describeError } from '@mlpipe/common';
import { kubectlApply } from './kubectl';
import { compilePipeline, pipelineYaml } from './pipeline';
import { validatePipeline } from './pipelineSpec';
import { DEFAULT_NATS_SECRET, DEFAULT_RUNTIME, renderTrainJob, renderTrainingRuntime } from './trainjob';

const USAGE = `usage: mlpipe-kubeflow render-trainjob --job-id ID [--replicas 1] [--image IMAGE] [--runtime ${DEFAULT_RUNTIME}] [--namespace NS] [--dry-run]
       mlpipe-kubeflow render-runtime --image IMAGE [--name ${DEFAULT_RUNTIME}] [--nats-url URL] [--bus-namespace NS] [--s3-endpoint URL] [--s3-bucket B] [--s3-secret NAME] [--nats-secret NAME|""] [--log-level L]
       mlpipe-kubeflow compile-pipeline [--registry ghcr.io/mlpipe] [--tag TAG] [--name NAME] [--nats-url URL] [--registry-url URL] [--s3-endpoint URL] [--s3-bucket B] [--s3-secret NAME] [--nats-secret NAME|""] [--registry-token-secret NAME|""] [--out FILE]
render-trainjob without --dry-run applies the TrainJob with kubectl (the current context).`;

const OPTIONS = {
  'job-id': { type: 'string' },
  replicas: { type: 'string', default: '1' },
  image: { type: 'string' },
  runtime: { type: 'string', default: DEFAULT_RUNTIME },
  namespace: { type: 'string' },
  name: { type: 'string' },
  'nats-url': { type: 'string', default: 'nats://nats:4222' },
  'bus-namespace': { type: 'string', default: 'mlpipe' },
  's3-endpoint': { type: 'string', default: 'http://minio:9000' },
  's3-bucket': { type: 'string', default: 'mlpipe' },
  's3-secret': { type: 'string', default: 'mlpipe-object-store' },
  /** The Secret of the NATS users' passwords ("" for a NATS without users). */
  'nats-secret': { type: 'string', default: DEFAULT_NATS_SECRET },
  /** The Secret holding a registry token (key `token`) for the pipeline's registry steps ("" to read anonymously). */
  'registry-token-secret': { type: 'string', default: 'mlpipe-gateway-registry-token' },
  'log-level': { type: 'string', default: 'info' },
  registry: { type: 'string', default: 'ghcr.io/mlpipe' },
  'registry-url': { type: 'string', default: 'http://registry:8081' },
  tag: { type: 'string', default: '0.1.0' },
  out: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  help: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];
/** Options with defaults are always set; parseArgs' types do not know that. */
const str = (v: Values, k: keyof typeof OPTIONS): string => String(v[k] ?? '');

function run(argv: string[]): number {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  const [command] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  switch (command) {
    case 'render-trainjob': {
      if (!values['job-id']) throw new ValidationError('render-trainjob needs --job-id');
      const replicas = Number(values.replicas);
      const job = renderTrainJob({
        jobId: values['job-id'],
        replicas,
        runtime: str(values, 'runtime'),
        ...(values.image ? { image: values.image } : {}),
        ...(values.namespace ? { namespace: values.namespace } : {}),
      });
      const yaml = stringify(job);
      if (values['dry-run']) process.stdout.write(yaml);
      else console.log(kubectlApply(yaml));
      return 0;
    }
    case 'render-runtime': {
      if (!values.image) throw new ValidationError('render-runtime needs --image');
      const runtime = renderTrainingRuntime({
        name: values.name ?? DEFAULT_RUNTIME,
        image: values.image,
        natsUrl: str(values, 'nats-url'),
        busNamespace: str(values, 'bus-namespace'),
        s3Endpoint: str(values, 's3-endpoint'),
        s3Bucket: str(values, 's3-bucket'),
        objectStoreSecret: str(values, 's3-secret'),
        logLevel: str(values, 'log-level'),
        natsSecret: str(values, 'nats-secret') || undefined,
      });
      process.stdout.write(stringify(runtime));
      return 0;
    }
    case 'compile-pipeline': {
      const compiled = compilePipeline({
        registry: str(values, 'registry'),
        tag: str(values, 'tag'),
        ...(values.name ? { name: values.name } : {}),
        natsUrl: str(values, 'nats-url'),
        busNamespace: str(values, 'bus-namespace'),
        s3Endpoint: str(values, 's3-endpoint'),
        s3Bucket: str(values, 's3-bucket'),
        registryUrl: str(values, 'registry-url'),
        objectStoreSecret: str(values, 's3-secret'),
        natsSecret: str(values, 'nats-secret') || undefined,
        registryTokenSecret: str(values, 'registry-token-secret') || undefined,
      });
      const errors = validatePipeline(compiled.pipelineSpec, compiled.platformSpec);
      if (errors.length) throw new ValidationError(`compiled pipeline is invalid: ${errors.join('; ')}`);
      if (values.out) writeFileSync(values.out, pipelineYaml(compiled));
      else process.stdout.write(pipelineYaml(compiled));
      return 0;
    }
    default:
      throw new ValidationError(`unknown command "${command}"; run with --help`);
  }
}

try {
  process.exitCode = run(process.argv.slice(2));
} catch (err) {
  console.error(`mlpipe-kubeflow: ${describeError(err)}`);
  process.exitCode = 1;
}
