/**
 * `npm run demo`: starts every service against the local NATS and PostgreSQL, seeds MNIST into the
 * store, and waits until the first model is registered as champion. With `--loop` it goes on to
 * the continuous-training cycle (see demoLoop.ts). Then the services keep running until Ctrl-C, so
 * the URLs it prints stay alive; `--exit` stops them instead (what tests use). Each run starts from
 * nothing: namespace `demo`, database `mlpipe_demo` and folder `.mlpipe/demo/` (or `--name`'s) are
 * wiped first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { TokenStore } from '@mlpipe/auth';
import type { NatsUser } from '@mlpipe/bus';
import { DatasetWatcherConfigSchema, loadConfig } from '@mlpipe/config';
import { RECIPE_NAMES } from '@mlpipe/contracts';
import pg from 'pg';
import { runLoop } from './demoLoop';
import { startDemoNats, type DemoNats } from './demoNats';

const { values } = parseArgs({
  options: {
    /** Stop every service once the champion (or the loop) is done, and exit 0: for tests and scripts. */
    exit: { type: 'boolean', default: false },
    /** The default since --exit exists; still accepted so older command lines keep working. */
    keep: { type: 'boolean', default: false },
    loop: { type: 'boolean', default: false },
    'timeout-min': { type: 'string', default: '20' },
    epochs: { type: 'string' },
    /** The recipe of the automatic job: fast (the default), quality (longer, ≥ 99.4%) or plain. */
    recipe: { type: 'string' },
    'train-subset': { type: 'string' },
    /** Trainer replicas started, and the data-parallel replicas of automatic jobs. */
    replicas: { type: 'string', default: '2' },
    /** Namespace, database suffix and work folder (tests run the demo under their own name). */
    name: { type: 'string', default: 'demo' },
    /** Ports: gateway base, registry +1, orchestrator +2, ui +3, watcher +4, trainers +5 and +10…, Prometheus +1010, NATS +1142. */
    'port-base': { type: 'string', default: '8080' },
  },
});
const fail = (message: string): never => {
  console.error(`demo: ${message}`);
  process.exit(1);
};
const replicas = Number(values.replicas);
if (!Number.isInteger(replicas) || replicas < 1 || replicas > 8) fail(`--replicas must be a whole number from 1 to 8, got "${values.replicas}"`);
const base = Number(values['port-base']);
if (!Number.isInteger(base) || base < 1024 || base > 64000) fail(`--port-base must be a port from 1024 to 64000, got "${values['port-base']}"`);
const name = values.name ?? 'demo';
if (!/^[a-z][a-z0-9-]{0,20}$/.test(name)) fail(`--name must be lower-case letters, digits and "-", got "${name}"`);
// The loop retrains on the union of old and new data: a subset of "the first N" would leave the new batches out.
const trainSubset = values['train-subset'] ?? '0';
if (values.exit && values.keep) fail('--exit and --keep contradict each other: the services keep running unless --exit is given');
if (values.recipe && !(RECIPE_NAMES as string[]).includes(values.recipe)) fail(`--recipe must be one of ${RECIPE_NAMES.join(', ')}, got "${values.recipe}"`);

const root = resolve(import.meta.dirname, '..');
const work = join(root, '.mlpipe', name);
const logs = join(work, 'logs');
const namespace = name;
const database = `mlpipe_${name.replace(/-/g, '_')}`;
const adminUrl = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbUrl = new URL(adminUrl);
dbUrl.pathname = `/${database}`;
const port = { gateway: base, registry: base + 1, orchestrator: base + 2, ui: base + 3, watcher: base + 4, prometheus: base + 1010, nats: base + 1142 };
const registryUrl = `http://127.0.0.1:${port.registry}`;

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
  REGISTRY_URL: registryUrl,
  GATEWAY_URL: `http://127.0.0.1:${port.gateway}`,
  // The fast recipe (cnn-wide, one-cycle, augmented) on the whole train split unless told otherwise.
  // The loop shows drift → retraining → gate: it trains without augmentation, since an augmented
  // champion already copes with the shifted stream and a retrained one could not beat it by the margin.
  AUTO_RECIPE: values.recipe ?? (values.loop ? 'plain' : 'fast'),
  AUTO_HYPERPARAMS: JSON.stringify({ ...(values.epochs ? { epochs: Number(values.epochs) } : {}), trainSubset: Number(trainSubset), testSubset: 0 }),
  AUTO_REPLICAS: String(replicas),
  // The loop samples every prediction (the default is 0.1): its drift windows fill from the few
  // hundred predictions it sends, and the lineage it shows is of the last one.
  ...(values.loop ? { DRIFT_WINDOW: '200', DRIFT_POLL_MS: '2000', PREDICTION_FLUSH_MS: '1000', DATA_POLL_MS: '1000', PREDICTION_SAMPLE_SHARE: '1' } : {}),
};

/** One process each; trainer replicas get ids trainer-1, trainer-2, … */
const SERVICES: { name: string; port: number; instance?: string }[] = [
  { name: 'registry', port: port.registry },
  { name: 'orchestrator', port: port.orchestrator },
  { name: 'dataset-watcher', port: port.watcher },
  ...Array.from({ length: replicas }, (_, i) => ({ name: 'trainer', port: i === 0 ? base + 5 : base + 9 + i, instance: `trainer-${i + 1}` })),
  { name: 'gateway', port: port.gateway },
  { name: 'ui', port: port.ui },
];

const children: ChildProcess[] = [];
/** What each child is, for the line that reports one that died. */
const labels = new Map<ChildProcess, string>();
/** The demo's admin token (created after the reset): sent with the demo's own registry calls, and printed for the person running it. */
let adminToken = '';
const auth = (): RequestInit => ({ headers: { authorization: `Bearer ${adminToken}` } });
const say = (line: string) => console.log(`[demo] ${line}`);

/** An admin token in the fresh database's token table (the registry's; it migrates the same schema at start-up). */
async function createAdminToken(): Promise<string> {
  const pool = new pg.Pool({ connectionString: dbUrl.toString(), max: 1 });
  try {
    const tokens = new TokenStore(pool);
    await tokens.migrate();
    return (await tokens.create('demo-admin', 'admin')).token;
  } finally {
    await pool.end();
  }
}

async function reset(): Promise<void> {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(logs, { recursive: true });
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists ${database} with (force)`);
  await admin.query(`create database ${database}`);
  await admin.end();
  // NATS starts afresh too: the demo's own server keeps its store in the folder just wiped (startNats).
}

/** The demo's own nats-server, with a user per service and passwords made for this run. */
let nats: DemoNats | undefined;
async function startNats(): Promise<DemoNats> {
  nats = await startDemoNats({ dir: join(work, 'nats'), port: port.nats, namespace, logFile: join(logs, 'nats-server.log') });
  children.push(nats.process);
  labels.set(nats.process, 'nats-server');
  env.NATS_URL = nats.url;
  return nats;
}

function start(service: string, servicePort: number, instance?: string): ChildProcess {
  const out = createWriteStream(join(logs, `${instance ?? service}.log`));
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'services', service, 'src', 'main.ts')], {
    cwd: root,
    env: { ...env, HTTP_PORT: String(servicePort), ...(instance ? { TRAINER_REPLICA_ID: instance } : {}), ...nats?.credentials(service as NatsUser) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  children.push(child);
  labels.set(child, instance ?? service);
  return child;
}

async function waitReady(label: string, servicePort: number, child: ChildProcess): Promise<void> {
  const end = Date.now() + 120_000;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`${label} exited with code ${child.exitCode}; see ${join(logs, `${label}.log`)}`);
    const ok = await fetch(`http://127.0.0.1:${servicePort}/readyz`).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${label} not ready after 2 minutes; see ${join(logs, `${label}.log`)}`);
}

function runToEnd(service: string, file: string, args: string[]): Promise<void> {
  return new Promise((done, failed) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'services', service, 'src', file), ...args], { cwd: root, env: { ...env, MLPIPE_TOKEN: adminToken }, stdio: 'inherit' });
    child.on('exit', (code) => (code === 0 ? done() : failed(new Error(`${service} ${args.join(' ')} exited with ${code}`))));
  });
}

type Champion = { version: number; testAccuracy?: number };

/** Waits for a champion, printing the newest job's progress meanwhile. */
async function waitForChampion(timeoutMs: number): Promise<Champion> {
  const end = Date.now() + timeoutMs;
  let lastJobLine = '';
  while (Date.now() < end) {
    const res = await fetch(`${registryUrl}/models/mnist/aliases/champion`, auth()).catch(() => undefined);
    if (res?.ok) return (await res.json()) as Champion;
    const rejected = await firstVersionRejected();
    if (rejected) throw new Error(`${rejected}: train longer (--epochs) or lower GATE_CLASS_FLOOR`);
    const line = await jobLine();
    if (line && line !== lastJobLine) say(line);
    lastJobLine = line;
    for (const c of children) if (c.exitCode !== null) throw new Error('a service exited; see the logs in ' + logs);
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`no champion after ${Math.round(timeoutMs / 60_000)} minutes; see the logs in ${logs}`);
}

/** The gate's reason when a version exists but none became champion. */
async function firstVersionRejected(): Promise<string | undefined> {
  const res = await fetch(`${registryUrl}/audit?model=mnist&limit=5`, auth()).catch(() => undefined);
  if (!res?.ok) return undefined;
  const { entries } = (await res.json()) as { entries: { action: string; version: number; decision: string; reason: string }[] };
  const set = entries.find((e) => e.action === 'alias.set');
  return set && set.decision !== 'champion' ? `v${set.version} did not pass the gate (${set.reason})` : undefined;
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
    const progress = p ? ` epoch ${p.epoch}/${p.epochs}, val accuracy ${((p.valAccuracy ?? 0) * 100).toFixed(2)}%, ${p.samplesPerSec.toFixed(0)} samples/s` : '';
    return `job ${j.job_id}: ${j.status}${progress} — ${j.status_reason ?? ''}`;
  } catch {
    return '';
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function jobTrigger(jobId: string): Promise<{ kind: string; reason: string } | undefined> {
  const client = new pg.Client({ connectionString: dbUrl.toString() });
  try {
    await client.connect();
    const { rows } = await client.query<{ trigger: { kind: string; reason: string } }>('select trigger from orchestrator.jobs where job_id = $1', [jobId]);
    return rows[0]?.trigger;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function stopAll(): void {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
}

async function main(): Promise<void> {
  say(`resetting namespace "${namespace}", database ${database} and .mlpipe/${name}/`);
  await reset();
  say(`nats-server (JetStream, a user per service) on ${(await startNats()).url}`);
  adminToken = await createAdminToken();
  say(`admin token (sign in to the web UI at /login; MLPIPE_TOKEN for the CLIs; docs/security.md): ${adminToken}`);
  for (const s of SERVICES) {
    const child = start(s.name, s.port, s.instance);
    await waitReady(s.instance ?? s.name, s.port, child);
    say(`${s.instance ?? s.name} ready on :${s.port}`);
  }
  say('seeding MNIST into the store (incoming/)');
  // The loop trains on all 60,000 train images: MNIST's files are ordered by writer, so the first N would
  // make a reference that any mixed stream of digits drifts from.
  await runToEnd('dataset-watcher', 'cli.ts', ['seed', 'mnist', ...(values.loop ? ['--test-limit', '5000'] : [])]);
  const timeoutMs = Number(values['timeout-min']) * 60_000;
  const champion = await waitForChampion(timeoutMs);
  const acc = champion.testAccuracy !== undefined ? ` with test accuracy ${(champion.testAccuracy * 100).toFixed(2)}%` : '';
  say(`mnist v${champion.version} is champion${acc}`);
  if (values.loop) {
    await runLoop({
      say,
      root,
      work,
      storeRoot: join(work, 'store'),
      dataPrefix: loadConfig(DatasetWatcherConfigSchema, env).DATA_PREFIX,
      gatewayUrl: `http://127.0.0.1:${port.gateway}`,
      registryUrl,
      prometheusPort: port.prometheus,
      scrapePorts: SERVICES.map((s) => s.port),
      champion: champion.version,
      track: (child) => children.push(child),
      jobTrigger,
    });
  }
  say('where to look:');
  say(`  registry API  ${registryUrl}/models/mnist   (OpenAPI: /openapi.json, audit: /audit?model=mnist)`);
  say(`  jobs          env $(cat ${nats?.envFile('jobs-cli')}) npx tsx services/orchestrator/src/cli.ts list`);
  say(`  dead letters  env $(cat ${nats?.envFile('ops')}) npx mlpipe-dlq list`);
  say(`  web UI        http://127.0.0.1:${port.ui}/   (draw a digit; sign in at /login with the admin token above to send corrections and submit jobs; gateway: http://127.0.0.1:${port.gateway}/v2/models/mnist)`);
  say(`  promote       MLPIPE_TOKEN=<the admin token> npx tsx services/registry/src/cli.ts promote mnist 1 --reason "why"`);
  say(`  artefacts     ${join(work, 'store', 'models', 'mnist')}`);
  say(`  logs          ${logs}`);
  say(`  metrics       http://127.0.0.1:<port>/metrics on every service (${SERVICES.map((s) => s.port).join(', ')})`);
  if (values.exit) return;
  await keepRunning();
}

/**
 * After the champion, the services stay up so the URLs just printed work: it says so with the
 * addresses and the admin token, and waits for Ctrl-C. A service that dies meanwhile is reported
 * (its log named) rather than left as a silently dead URL.
 */
async function keepRunning(): Promise<void> {
  say('the services keep running until you press Ctrl-C:');
  say(`  web UI        http://127.0.0.1:${port.ui}/   sign in at http://127.0.0.1:${port.ui}/login`);
  say(`  admin token   ${adminToken}`);
  say(`  registry      ${registryUrl}/models/mnist`);
  say(`  gateway       http://127.0.0.1:${port.gateway}/v2/models/mnist`);
  const reported = new Set<ChildProcess>();
  const watch = setInterval(() => {
    for (const c of children) {
      if ((c.exitCode === null && c.signalCode === null) || reported.has(c)) continue;
      reported.add(c);
      say(`${labels.get(c) ?? 'a helper process'} exited (${c.exitCode ?? c.signalCode}); see ${logs}`);
    }
  }, 2000);
  await new Promise<void>((done) => process.once('SIGINT', () => done()));
  clearInterval(watch);
  say('Ctrl-C: stopping the services');
}

process.once('exit', stopAll);
for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    stopAll();
    process.exit(1);
  });
}
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
