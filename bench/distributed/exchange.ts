/**
 * The gradient exchange across hosts: three network namespaces on a bridge with a NATS server on
 * each joined into a cluster (test/multihost/harness), one exchange member per host
 * (exchangeMember.ts: the trainer's frames, seals, codecs and reduction, with random gradients),
 * for 1-3 members, gradients of 24 KiB (cnn-small) to 4.8 MB (a 1.2 M-parameter net), and each
 * host's link unlimited, at 1 Gbit/s or at 100 Mbit/s (tbf on both ends; no netem on this kernel,
 * so no added latency). Measures the exchange's time per step; samples/s and the exchange share
 * follow with the compute time of a measured single-replica step (bench/distributed/run.ts), and
 * 8 and 32 members are projected from the measured cost of each added member. Both schemes run:
 * coordinator-reduce (with the fp16/top-k rows) and the ring all-reduce (adapters/ringExchange.ts),
 * projected from its measured cost per hop.
 * Usage (as root): npx tsx bench/distributed/exchange.ts [--no-compression]  (writes bench/results/distributed-exchange-<date>-<HHMM>.json)
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHosts, hostsUnavailable, type Hosts } from '../../test/multihost/harness/hosts';
import { startNatsCluster } from '../../test/multihost/harness/natsCluster';

const root = resolve(import.meta.dirname, '../..');
/** cnn-wide, 1 replica, global batch 128: 1,535 samples/s (bench/results/distributed-2026-12-01.json): 83 ms a step. */
const GLOBAL_BATCH = 128;
const SINGLE_STEP_MS = (GLOBAL_BATCH / 1535) * 1000;
const SIZES = [
  { label: '24 KiB (cnn-small)', floats: 6_144 },
  { label: '1.2 MB (300 k params)', floats: 300_000 },
  { label: '4.8 MB (1.2 M params)', floats: 1_200_000 },
];
const RATES: (number | undefined)[] = [undefined, 1000, 100];
const rateLabel = (r: number | undefined) => (r === undefined ? 'unlimited' : r >= 1000 ? `${r / 1000} Gbit/s` : `${r} Mbit/s`);

interface Row {
  rate: string;
  rateMbit: number | null;
  gradient: string;
  bytes: number;
  members: number;
  compression: string;
  scheme: 'coordinator' | 'ring';
  exchangeMs: number;
  reduceMs: number;
  bytesOutPerStep: number;
  samplesPerSec: number;
  exchangeShare: number;
}

function runMembers(world: Hosts, urls: string[], members: number, floats: number, compression: string, steps: number, scheme: string): Promise<{ medianStepMs: number; reduceMsPerStep: number; bytesOutPerStep: number }> {
  const prefix = `bench.x${Math.random().toString(36).slice(2, 8)}`;
  return new Promise((resolveRun, reject) => {
    let out = '';
    const procs = Array.from({ length: members }, (_, rank) => {
      const host = world.hosts[rank]!;
      const cmd = world.exec(host, process.execPath, ['--import', 'tsx', join(root, 'bench/distributed/exchangeMember.ts'), urls[rank]!, prefix, String(rank), String(members), String(floats), compression, String(steps), scheme]);
      const p = spawn(cmd.command, cmd.args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
      if (rank === 0) p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      return p;
    });
    const timer = setTimeout(() => {
      for (const p of procs) p.kill('SIGKILL');
      reject(new Error(`exchange of ${members} × ${floats} floats (${compression}) did not finish`));
    }, 150_000);
    procs[0]!.once('exit', (code) => {
      clearTimeout(timer);
      for (const p of procs.slice(1)) setTimeout(() => p.kill('SIGKILL'), 2000);
      if (code !== 0) return reject(new Error(`coordinator exited ${code}`));
      resolveRun(JSON.parse(out.trim().split('\n').at(-1)!) as { medianStepMs: number; reduceMsPerStep: number; bytesOutPerStep: number });
    });
  });
}

const date = new Date().toISOString().slice(0, 10);
const file = `bench/results/distributed-exchange-${date}-${new Date().toISOString().slice(11, 16).replace(':', '')}.json`;
const withCompression = !process.argv.includes('--no-compression');
/** Written after every row: a configuration that fails or a crash keeps what was measured. */
function writeResults(): void {
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(join(root, file), `${JSON.stringify({ date, machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version }, singleStepMs: SINGLE_STEP_MS, globalBatch: GLOBAL_BATCH, latencyEmulated: false, rows, projections: projections(), ringProjections: ringProjections() }, null, 2)}\n`);
}

const why = hostsUnavailable();
if (why) {
  console.error(`bench/distributed/exchange: ${why}`);
  process.exit(1);
}
const world = createHosts(3);
const dir = mkdtempSync(join(tmpdir(), 'mlpipe-bench-exchange-'));
const nats = startNatsCluster(world, dir);
const rows: Row[] = [];
try {
  await Promise.all(nats.servers.map((s) => s.start()));
  await nats.waitHealthy();
  const urls = nats.servers.map((s) => s.url);
  type Scheme = 'coordinator' | 'ring';
  const configs: { members: number; size: (typeof SIZES)[number]; compression: string; rate: number | undefined; scheme: Scheme }[] = [];
  for (const size of SIZES) configs.push({ members: 1, size, compression: 'none', rate: undefined, scheme: 'coordinator' });
  for (const rate of RATES) {
    // The two schemes side by side for each size, so both see the same moment of a noisy machine.
    for (const size of SIZES) for (const members of [2, 3]) for (const scheme of ['coordinator', 'ring'] as const) configs.push({ members, size, compression: 'none', rate, scheme });
    if (withCompression) for (const compression of ['fp16', 'topk']) configs.push({ members: 3, size: SIZES[2]!, compression, rate, scheme: 'coordinator' });
  }
  for (const c of configs) {
    for (const h of world.hosts) world.shape(h, c.rate);
    // About 2 s of exchange per configuration at the slowest, at least 8 steps.
    const steps = c.size.floats > 100_000 ? (c.rate === 100 || c.compression !== 'none' ? 5 : 8) : 40;
    const m = await runMembers(world, urls, c.members, c.size.floats, c.compression, steps, c.scheme).catch((err: unknown) => {
      console.log(`${rateLabel(c.rate)} ${c.size.label} ${c.members} ${c.compression} ${c.scheme}: ${String(err)}`);
      return undefined;
    });
    if (!m) continue;
    const compute = SINGLE_STEP_MS / c.members;
    const row: Row = {
      rate: rateLabel(c.rate),
      rateMbit: c.rate ?? null,
      gradient: c.size.label,
      bytes: c.size.floats * 4,
      members: c.members,
      compression: c.compression,
      scheme: c.scheme,
      exchangeMs: m.medianStepMs,
      reduceMs: m.reduceMsPerStep,
      bytesOutPerStep: m.bytesOutPerStep,
      samplesPerSec: GLOBAL_BATCH / ((compute + m.medianStepMs) / 1000),
      exchangeShare: m.medianStepMs / (compute + m.medianStepMs),
    };
    rows.push(row);
    writeResults();
    console.log(`${row.rate.padEnd(10)} ${row.gradient.padEnd(22)} ${c.members} ${c.scheme.padEnd(11)} ${c.compression.padEnd(5)} exchange ${row.exchangeMs.toFixed(1)} ms (reduce ${row.reduceMs.toFixed(1)}), ${row.samplesPerSec.toFixed(0)} samples/s, share ${(row.exchangeShare * 100).toFixed(1)}%`);
  }
} finally {
  await nats.dispose();
  world.dispose();
  rmSync(dir, { recursive: true, force: true });
}

/** Each added member's cost, measured as 3 members' exchange less 2's; projected linearly, as coordinator-reduce scales. */
function projections(): { rate: string; gradient: string; perMemberMs: number; at8Ms: number; at32Ms: number; linkBound32Ms: number | null; ring32Ms: number | null }[] {
  const out = [];
  for (const rate of RATES) {
    for (const size of SIZES) {
      const of = (n: number) => rows.find((r) => r.rate === rateLabel(rate) && r.gradient === size.label && r.members === n && r.compression === 'none' && r.scheme === 'coordinator');
      const two = of(2);
      const three = of(3);
      if (!two || !three) continue;
      const perMember = Math.max(0, three.exchangeMs - two.exchangeMs);
      const bits = size.floats * 4 * 8;
      out.push({
        rate: rateLabel(rate),
        gradient: size.label,
        perMemberMs: perMember,
        at8Ms: two.exchangeMs + 6 * perMember,
        at32Ms: two.exchangeMs + 30 * perMember,
        // The coordinator's host link alone: 31 gradients in per step (and 31 copies of the mean out, full duplex).
        linkBound32Ms: rate === undefined ? null : (31 * bits) / (rate * 1e6) * 1000,
        // A ring reduce-scatter + all-gather moves 2(N-1)/N gradients over every link.
        ring32Ms: rate === undefined ? null : ((2 * 31) / 32) * bits / (rate * 1e6) * 1000,
      });
    }
  }
  return out;
}

/**
 * The ring takes 2(N-1) hops of L/N each: T(N) = 2(N-1)·(a + b·L/N), a the fixed cost of a hop and
 * b·L a whole gradient's cost per byte, solved from the 2- and 3-member rows (T2 = 2a + bL,
 * T3 = 4a + 4bL/3), a clamped at 0 when noise makes it negative; then 8 and 32 members from it.
 */
function ringProjections(): { rate: string; gradient: string; hopFixedMs: number; gradientPerHopMs: number; at8Ms: number; at32Ms: number }[] {
  const out = [];
  for (const rate of RATES) {
    for (const size of SIZES) {
      const of = (n: number) => rows.find((r) => r.rate === rateLabel(rate) && r.gradient === size.label && r.members === n && r.scheme === 'ring');
      const two = of(2);
      const three = of(3);
      if (!two || !three) continue;
      const a = Math.max(0, 0.75 * three.exchangeMs - two.exchangeMs);
      const bL = Math.max(0, two.exchangeMs - 2 * a);
      const at = (n: number) => 2 * (n - 1) * (a + bL / n);
      out.push({ rate: rateLabel(rate), gradient: size.label, hopFixedMs: a, gradientPerHopMs: bL, at8Ms: at(8), at32Ms: at(32) });
    }
  }
  return out;
}

writeResults();
console.log(`wrote ${file}`);
process.exit(0);
