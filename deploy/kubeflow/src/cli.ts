import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { compilePipeline, validatePipeline } from './pipeline';
import { renderTrainJob, renderTrainingRuntime } from './trainjob';

const USAGE = `usage: mlpipe-kubeflow render-trainjob --job-id ID [--replicas 1] [--image IMAGE] [--dry-run]
       mlpipe-kubeflow render-runtime --image IMAGE [--nats-url URL] [--bus-namespace NS] [--s3-endpoint URL] [--s3-bucket B] [--s3-secret NAME]
       mlpipe-kubeflow compile-pipeline --registry REGISTRY [--tag TAG] [--name NAME]
Without --dry-run, render-trainjob applies the TrainJob with kubectl (the current context).`;

function run(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'job-id': { type: 'string' },
      replicas: { type: 'string', default: '1' },
      image: { type: 'string' },
      'nats-url': { type: 'string', default: 'nats://nats:4222' },
      'bus-namespace': { type: 'string', default: 'mlpipe' },
      's3-endpoint': { type: 'string', default: 'http://minio:9000' },
      's3-bucket': { type: 'string', default: 'mlpipe' },
      's3-secret': { type: 'string', default: 'mlpipe-object-store' },
      name: { type: 'string' },
      registry: { type: 'string' },
      tag: { type: 'string', default: '0.1.0' },
      'dry-run': { type: 'boolean', default: false },
      help: { type: 'boolean' },
    },
  });
  const [command] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  if (command === 'render-trainjob') {
    if (!values['job-id']) throw new Error('render-trainjob needs --job-id');
    const yaml = stringify(renderTrainJob({ jobId: values['job-id'], replicas: Number(values.replicas), ...(values.image ? { image: values.image } : {}) }));
    if (values['dry-run']) {
      process.stdout.write(yaml);
      return 0;
    }
    try {
      execFileSync('kubectl', ['apply', '-f', '-'], { input: yaml, stdio: ['pipe', 'inherit', 'pipe'] });
    } catch (err) {
      const detail = (err as { stderr?: Buffer }).stderr?.toString().split('\n')[0] ?? (err as Error).message;
      throw new Error(`kubectl could not apply the TrainJob (${detail}); use --dry-run to print it instead`);
    }
    return 0;
  }
  if (command === 'compile-pipeline') {
    if (!values.registry) throw new Error('compile-pipeline needs --registry (e.g. ghcr.io/mlpipe)');
    const spec = compilePipeline({ registry: values.registry, tag: values.tag ?? '0.1.0', ...(values.name ? { name: values.name } : {}) });
    const errors = validatePipeline(spec);
    if (errors.length) throw new Error(`compiled pipeline is invalid: ${errors.join('; ')}`);
    process.stdout.write(stringify(spec));
    return 0;
  }
  if (!values.image) throw new Error(`${command} needs --image`);
  if (command === 'render-runtime') {
    process.stdout.write(stringify(renderTrainingRuntime({
          image: values.image,
          natsUrl: values['nats-url'] ?? '',
          busNamespace: values['bus-namespace'] ?? 'mlpipe',
          s3Endpoint: values['s3-endpoint'] ?? '',
          s3Bucket: values['s3-bucket'] ?? 'mlpipe',
          objectStoreSecret: values['s3-secret'] ?? 'mlpipe-object-store',
        })));
    return 0;
  }
  throw new Error(`unknown command "${command}"; run with --help`);
}

try {
  process.exit(run(process.argv.slice(2)));
} catch (err) {
  console.error(`mlpipe-kubeflow: ${(err as Error).message.split('\n')[0]}`);
  process.exit(1);
}
