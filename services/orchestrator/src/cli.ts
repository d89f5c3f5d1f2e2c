import { parseArgs } from 'node:util';
import { BaseConfigSchema, loadConfig } from '@mlpipe/config';
import { connectBus, request, type Bus } from '@mlpipe/bus';
import { describeError, ValidationError } from '@mlpipe/common';
import { readFileSync } from 'node:fs';
import { RECIPE_NAMES, RECIPES, type Job, type RecipeName, type Sweep } from '@mlpipe/contracts';

const USAGE = `usage: mlpipe-jobs submit [--model mnist] [--dataset mnist] [--recipe fast|quality|plain]
                          [--arch cnn-small|cnn-wide|cnn-deep] [--epochs N] [--batch-size N] [--lr X]
                          [--optimizer adam|sgd] [--schedule constant|step|cosine|one-cycle] [--augment|--no-augment]
                          [--seed N] [--train-subset N] [--test-subset N]
                          [--replicas N] [--compression none|fp16|topk] [--exchange coordinator|ring] [--reason TEXT] [--wait]
       mlpipe-jobs sweep --spec JSON|@FILE [same hyperparameter flags as submit, shared by every trial] [--wait]
       mlpipe-jobs sweep-get SWEEP_ID
       mlpipe-jobs list [--status queued|running|succeeded|failed|cancelled] [--limit N]
       mlpipe-jobs get JOB_ID
       mlpipe-jobs wait JOB_ID
       mlpipe-jobs cancel JOB_ID [--reason TEXT]

a sweep spec, e.g. '{"strategy":"grid","space":{"learningRate":[0.003,0.001],"arch":["cnn-small","cnn-deep"]},
                    "earlyStopping":{"rule":"median","minTrials":3}}'`;

const num = (v: string | undefined, name: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new ValidationError(`--${name} must be a number, got "${v}"`);
  return n;
};

function describeJob(j: Job): string {
  const p = j.lastProgress;
  const progress = p ? ` epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(4)} val_acc ${p.valAccuracy?.toFixed(4) ?? '-'}` : '';
  const version = j.modelVersion ? ` → ${j.modelName} v${j.modelVersion}` : '';
  return `${j.jobId}  ${j.status.padEnd(9)} ${j.hyperparams.arch} ${j.trigger.kind}${progress}${version}  ${j.statusReason ?? ''}`;
}

function describeSweep(s: Sweep): string {
  const lines = [`${s.sweepId}  ${s.status.padEnd(9)} ${s.spec.strategy} ${s.trials.length} trials  ${s.statusReason ?? ''}`];
  for (const t of s.trials) {
    const acc = t.valAccuracy === null ? '-' : t.valAccuracy.toFixed(4);
    const mark = t.jobId === s.bestJobId ? ' ← best' : t.pruned ? ' (pruned)' : '';
    lines.push(`  #${t.trial} ${t.jobId} ${t.status.padEnd(9)} ${t.hyperparams.arch} lr=${t.hyperparams.learningRate} bs=${t.hyperparams.batchSize} epochs ${t.epochs}/${t.hyperparams.epochs} val_acc ${acc}${mark}`);
  }
  return lines.join('\n');
}

function readSpec(v: string | undefined): unknown {
  if (!v) throw new ValidationError('sweep needs --spec with a JSON sweep spec (or @file)');
  const text = v.startsWith('@') ? readFileSync(v.slice(1), 'utf8') : v;
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new ValidationError(`--spec is not JSON: ${(cause as Error).message}`, { cause });
  }
}

/** Follows a job until it ends, printing each change; exits non-zero unless it succeeded. */
async function waitForJob(bus: Bus, jobId: string): Promise<number> {
  let last = '';
  for (;;) {
    const job = await request(bus, 'orchestrator.jobs.get', { jobId });
    const line = describeJob(job);
    if (line !== last) console.log(line);
    last = line;
    if (job.status === 'succeeded' && job.modelVersion) return 0;
    if (job.status === 'failed' || job.status === 'cancelled') return 1;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

async function waitForSweep(bus: Bus, sweepId: string): Promise<number> {
  let last = '';
  for (;;) {
    const sweep = await request(bus, 'orchestrator.sweeps.get', { sweepId });
    const text = describeSweep(sweep);
    if (text !== last) console.log(text);
    last = text;
    if (sweep.status !== 'running') return sweep.status === 'succeeded' ? 0 : 1;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      dataset: { type: 'string' },
      arch: { type: 'string' },
      epochs: { type: 'string' },
      'batch-size': { type: 'string' },
      lr: { type: 'string' },
      seed: { type: 'string' },
      'train-subset': { type: 'string' },
      'test-subset': { type: 'string' },
      reason: { type: 'string' },
      status: { type: 'string' },
      limit: { type: 'string' },
      replicas: { type: 'string' },
      compression: { type: 'string' },
      exchange: { type: 'string' },
      recipe: { type: 'string' },
      optimizer: { type: 'string' },
      schedule: { type: 'string' },
      augment: { type: 'boolean' },
      'no-augment': { type: 'boolean' },
      spec: { type: 'string' },
      wait: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  const [command, jobId] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const config = loadConfig(BaseConfigSchema);
  const bus = await connectBus({ url: config.NATS_URL, name: 'mlpipe-jobs', namespace: config.BUS_NAMESPACE, user: config.NATS_USER, password: config.NATS_PASSWORD });
  try {
    switch (command) {
      case 'submit':
      case 'sweep': {
        if (values.recipe && !(RECIPE_NAMES as string[]).includes(values.recipe)) throw new ValidationError(`--recipe must be one of ${RECIPE_NAMES.join(', ')}, got "${values.recipe}"`);
        const recipe: Record<string, unknown> = values.recipe ? { ...RECIPES[values.recipe as RecipeName] } : {};
        if (values['no-augment']) delete recipe.augment;
        const hyperparams = Object.fromEntries(
          Object.entries({
            ...recipe,
            ...(values.augment ? { augment: {} } : {}),
            optimizer: values.optimizer,
            lrSchedule: values.schedule,
            arch: values.arch,
            epochs: num(values.epochs, 'epochs'),
            batchSize: num(values['batch-size'], 'batch-size'),
            learningRate: num(values.lr, 'lr'),
            seed: num(values.seed, 'seed'),
            trainSubset: num(values['train-subset'], 'train-subset'),
            testSubset: num(values['test-subset'], 'test-subset'),
            compression: values.compression,
            exchange: values.exchange,
          }).filter(([, v]) => v !== undefined),
        );
        if (command === 'sweep') {
          const sweep = await request(bus, 'orchestrator.sweeps.submit', {
            ...(values.model ? { modelName: values.model } : {}),
            ...(values.dataset ? { dataset: values.dataset as 'mnist' } : {}),
            ...(values.reason ? { reason: values.reason } : {}),
            hyperparams,
            sweep: readSpec(values.spec) as never,
          });
          console.log(describeSweep(sweep));
          return values.wait ? await waitForSweep(bus, sweep.sweepId) : 0;
        }
        const job = await request(bus, 'orchestrator.jobs.submit', {
          ...(values.model ? { modelName: values.model } : {}),
          ...(values.dataset ? { dataset: values.dataset as 'mnist' } : {}),
          ...(values.reason ? { reason: values.reason } : {}),
          ...(values.replicas ? { replicas: num(values.replicas, 'replicas') ?? 1 } : {}),
          hyperparams,
        });
        console.log(describeJob(job));
        return values.wait ? await waitForJob(bus, job.jobId) : 0;
      }
      case 'sweep-get': {
        if (!jobId) throw new ValidationError('sweep-get needs a SWEEP_ID');
        console.log(describeSweep(await request(bus, 'orchestrator.sweeps.get', { sweepId: jobId })));
        return 0;
      }
      case 'list': {
        const { jobs } = await request(bus, 'orchestrator.jobs.list', {
          ...(values.status ? { status: values.status as Job['status'] } : {}),
          ...(values.limit ? { limit: num(values.limit, 'limit') ?? 50 } : {}),
        });
        for (const j of jobs) console.log(describeJob(j));
        if (!jobs.length) console.log('no jobs');
        return 0;
      }
      case 'get':
      case 'wait':
      case 'cancel': {
        if (!jobId) throw new ValidationError(`${command} needs a JOB_ID`);
        if (command === 'wait') return await waitForJob(bus, jobId);
        const job =
          command === 'get'
            ? await request(bus, 'orchestrator.jobs.get', { jobId })
            : await request(bus, 'orchestrator.jobs.cancel', { jobId, ...(values.reason ? { reason: values.reason } : {}) });
        console.log(describeJob(job));
        return 0;
      }
      default:
        throw new ValidationError(`unknown command "${command}"; run with --help`);
    }
  } finally {
    await bus.close();
  }
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`mlpipe-jobs: ${describeError(err)}`);
    process.exit(1);
  },
);
