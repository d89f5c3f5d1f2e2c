/**
 * `npm run demo`: starts every service against the local NATS and PostgreSQL, seeds MNIST into the
 * store, and waits until the first model is registered as champion. Each run starts from nothing:
 * namespace `demo`, database `mlpipe_demo` and folder `.mlpipe/demo/` are wiped first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { connectBus, deleteStreams } from '@mlpipe/bus';
import pg from 'pg';

const { values } = parseArgs({
  options: {
    keep: { type: 'boolean', default: false },
    'timeout-min': { type: 'string', default: '20' },
    epochs: { type: 'string', default: '3' },
    'train-subset': { type: 'string', default: '30000' },
    /** Trainer replicas started, and the data-parallel replicas of the automatic job. */
    replicas: { type: 'string', default: '2' },
  },
});
const replicas = Number(values.replicas);
if (!Number.isInteger(replicas) || replicas < 1 || replicas > 8) {
  console.error(`demo: --replicas must be a whole number from 1 to 8, got "${values.replicas}"`);
  process.exit(1);
}
const root = resolve(import.meta.dirname, '..');
const work = join(root, '.mlpipe', 'demo');
const logs = join(work, 'logs');
const namespace = 'demo';
const adminUrl = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbUrl = new URL(adminUrl);
dbUrl.pathname = '/mlpipe_demo';

const codeVersion = (() => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).toString().trim();
  } catch {
    return 'dev';
  }
})();

const env: NodeJS.ProcessEnv = {
  ...process.env,
  BUS_NAMESPACE: namespace,
  DATABASE_URL: dbUrl.toString(),
  STORE_KIND: 'fs',
  STORE_ROOT: join(work, 'store'),
  LOG_LEVEL: 'info',
  CODE_VERSION: codeVersion,
  AUTO_HYPERPARAMS: JSON.stringify({
    arch: 'cnn-small',
    epochs: Number(values.epochs),
    trainSubset: Number(values['train-subset']),
    testSubset: 0,
  }),
  AUTO_REPLICAS: String(replicas),
};

/** One process each; trainer replicas get ports 8085, 8090, 8091, … and ids trainer-1, trainer-2, … */
const SERVICES: { name: string; port: number; instance?: string }[] = [
  { name: 'registry', port: 8081 },
  { name: 'orchestrator', port: 8082 },
  { name: 'dataset-watcher', port: 8084 },
  ...Array.from({ length: replicas }, (_, i) => ({ name: 'trainer', port: i === 0 ? 8085 : 8089 + i, instance: `trainer-${i + 1}` })),
  { name: 'gateway', port: 8080 },
  { name: 'ui', port: 8083 },
];

const children: ChildProcess[] = [];
const say = (line: string) => console.log(`[demo] ${line}`);

async function reset(): Promise<void> {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(logs, { recursive: true });
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query('drop database if exists mlpipe_demo with (force)');
  await admin.query('create database mlpipe_demo');
  await admin.end();
  const bus = await connectBus({ url: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', name: 'demo-reset', namespace });
  await deleteStreams(bus);
  await bus.close();
}

function start(name: string, port: number, instance?: string): ChildProcess {
  const out = createWriteStream(join(logs, `${instance ?? name}.log`));
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'services', name, 'src', 'main.ts')], {
    cwd: root,
    env: { ...env, HTTP_PORT: String(port), ...(instance ? { TRAINER_REPLICA_ID: instance } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  children.push(child);
  return child;
}

async function waitReady(name: string, port: number, child: ChildProcess): Promise<void> {
  const end = Date.now() + 120_000;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}; see ${join(logs, `${name}.log`)}`);
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${name} not ready after 2 minutes; see ${join(logs, `${name}.log`)}`);
}

function runToEnd(name: string, file: string, args: string[]): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'services', name, 'src', file), ...args], {
      cwd: root,
      env,
      stdio: 'inherit',
    });
    child.on('exit', (code) => (code === 0 ? done() : fail(new Error(`${name} ${args.join(' ')} exited with ${code}`))));
  });
}

type Champion = { version: number; testAccuracy?: number };

async function waitForChampion(timeoutMs: number): Promise<Champion> {
  const end = Date.now() + timeoutMs;
  let lastJobLine = '';
  while (Date.now() < end) {
    const res = await fetch('http://127.0.0.1:8081/models/mnist/aliases/champion').catch(() => undefined);
    if (res?.ok) return (await res.json()) as Champion;
    const line = await jobLine();
    if (line && line !== lastJobLine) say(line);
    lastJobLine = line;
    for (const c of children) if (c.exitCode !== null) throw new Error('a service exited; see the logs in ' + logs);
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`no champion after ${values['timeout-min']} minutes; see the logs in ${logs}`);
}

async function jobLine(): Promise<string> {
  const client = new pg.Client({ connectionString: dbUrl.toString() });
  try {
    await client.connect();
    const { rows } = await client.query<{ job_id: string; status: string; last_progress: { epoch: number; epochs: number; valAccuracy?: number; samplesPerSec: number } | null; status_reason: string | null }>(
      'select job_id, status, last_progress, status_reason from orchestrator.jobs order by created_at desc limit 1',
    );
    const j = rows[0];
    if (!j) return 'waiting for the dataset watcher to validate MNIST…';
    const p = j.last_progress;
    const progress = p
      ? ` epoch ${p.epoch}/${p.epochs}, val accuracy ${((p.valAccuracy ?? 0) * 100).toFixed(2)}%, ${p.samplesPerSec.toFixed(0)} samples/s`
      : '';
    return `job ${j.job_id}: ${j.status}${progress} — ${j.status_reason ?? ''}`;
  } catch {
    return '';
  } finally {
    await client.end().catch(() => undefined);
  }
}

function stopAll(): void {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
}

async function main(): Promise<void> {
  say('resetting namespace "demo", database mlpipe_demo and .mlpipe/demo/');
  await reset();
  for (const s of SERVICES) {
    const child = start(s.name, s.port, s.instance);
    await waitReady(s.instance ?? s.name, s.port, child);
    say(`${s.instance ?? s.name} ready on :${s.port}`);
  }
  say('seeding MNIST into the store (incoming/)');
  await runToEnd('dataset-watcher', 'cli.ts', ['seed', 'mnist']);
  const champion = await waitForChampion(Number(values['timeout-min']) * 60_000);
  const acc = champion.testAccuracy !== undefined ? ` with test accuracy ${(champion.testAccuracy * 100).toFixed(2)}%` : '';
  say(`mnist v${champion.version} is champion${acc}`);
  say('where to look:');
  say('  registry API  http://127.0.0.1:8081/models/mnist   (OpenAPI: /openapi.json, audit: /audit?model=mnist)');
  say('  jobs          BUS_NAMESPACE=demo npx tsx services/orchestrator/src/cli.ts list');
  say('  web UI        http://127.0.0.1:8083/   (draw a digit; gateway: http://127.0.0.1:8080/v2/models/mnist)');
  say(`  artefacts     ${join(work, 'store', 'models', 'mnist')}`);
  say(`  logs          ${logs}`);
  const extraTrainers = SERVICES.filter((x) => x.instance && x.port !== 8085).map((x) => x.port);
  say(`  metrics       http://127.0.0.1:<port>/metrics on every service (8080-8085${extraTrainers.length ? `, more trainers on ${extraTrainers.join(', ')}` : ''})`);
  if (!values.keep) return;
  say('services keep running; Ctrl-C stops them');
  await new Promise<void>((done) => process.once('SIGINT', () => done()));
}

process.once('exit', stopAll);
main().then(
  () => {
    stopAll();
    process.exit(0);
  },
  (err: unknown) => {
    console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
    stopAll();
    process.exit(1);
  },
);
