import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';

/**
 * "Hosts" on one machine: a network namespace each, joined by veth pairs to a bridge of the run's
 * own in the root namespace, with addresses from a private /24 picked at random per run (so two
 * runs, or two test files at once, never share a name or an address). The bridge's own address is
 * how a host reaches services of the root namespace (the orchestrator, the registry, the edge).
 *
 * Faults are done to the host's end of its veth: `cut` sets it down (the host is cut off: packets
 * vanish, connections hang rather than reset, as with a pulled cable), `shape` puts a tbf on both
 * ends (bandwidth only: this kernel has no netem, so no delay or loss).
 *
 * Everything is named with PREFIX, so removeLeftovers() can clear what a crashed run left behind,
 * and an 'exit' hook removes the run's own namespaces and links even when vitest tears down a
 * worker after a failed test.
 */
export const PREFIX = 'mlmh';

export interface Host {
  /** h1, h2, h3 */
  readonly name: string;
  /** The network namespace (`ip netns exec <netns> …`). */
  readonly netns: string;
  readonly address: string;
  /** The root namespace's end of the host's veth (what cut and shape act on). */
  readonly link: string;
}

export interface Hosts {
  readonly runId: string;
  readonly bridge: string;
  /** The bridge's address: the root namespace as the hosts see it. */
  readonly gateway: string;
  readonly hosts: Host[];
  /** The host's link down: nothing gets in or out until restore(). */
  cut(host: Host): void;
  restore(host: Host): void;
  /** Bandwidth of the host's link, both ways (tbf); undefined removes the shaping. */
  shape(host: Host, rateMbit: number | undefined): void;
  /** `ip netns exec <netns> <command> <args…>` as spawn arguments. */
  exec(host: Host, command: string, args: string[]): { command: string; args: string[] };
  dispose(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const quiet = (cmd: string, args: string[]) => {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
  } catch {
    // already gone
  }
};

/** Why this process cannot make hosts (not root, no iproute2, a kernel without namespaces), or undefined when it can. */
export function hostsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root (run the multihost tests as root)';
  const probe = `${PREFIX}probe${randomBytes(3).toString('hex')}`;
  try {
    ip('netns', 'add', probe);
    ip('link', 'add', `${probe.slice(0, 11)}b`, 'type', 'bridge');
    return undefined;
  } catch (err) {
    return `cannot create a network namespace and a bridge: ${(err as { stderr?: Buffer }).stderr?.toString().trim() || String(err)}`;
  } finally {
    quiet('ip', ['link', 'del', `${probe.slice(0, 11)}b`]);
    quiet('ip', ['netns', 'del', probe]);
  }
}

/** Kills what still runs in a namespace (processes of this harness, by pid) and deletes it. */
function deleteNetns(netns: string): void {
  let pids: string[] = [];
  try {
    pids = ip('netns', 'pids', netns).split('\n').filter(Boolean);
  } catch {
    // gone
  }
  for (const pid of pids) quiet('kill', ['-KILL', pid]);
  quiet('ip', ['netns', 'del', netns]);
}

/** Namespaces and links of earlier runs (by PREFIX), left by a crash; `keep`: the ids of runs still alive (parallel files). */
export function removeLeftovers(keep: ReadonlySet<string> = new Set()): string[] {
  const spared = (runId: string | undefined) => runId !== undefined && keep.has(runId);
  const removed: string[] = [];
  for (const line of ip('netns', 'list').split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (name.startsWith(`${PREFIX}-`) && !spared(name.split('-')[1])) {
      deleteNetns(name);
      removed.push(name);
    }
  }
  for (const line of ip('-o', 'link', 'show').split('\n')) {
    const name = /^\d+:\s+([^:@\s]+)/.exec(line)?.[1] ?? '';
    // Links are <PREFIX><6 hex run id><b|v<n>>; the probe's bridge is mlmhprobe….
    if (name.startsWith(PREFIX) && !spared(name.slice(PREFIX.length, PREFIX.length + 6))) {
      quiet('ip', ['link', 'del', name]);
      removed.push(name);
    }
  }
  return removed;
}

/** Six hex digits: the part of every namespace and link name that tells one run from another. */
export const newRunId = (): string => randomBytes(3).toString('hex');

const live = new Set<Hosts>();
let guarded = false;

function guardExit(): void {
  if (guarded) return;
  guarded = true;
  // Synchronous: runs even when the worker exits after a failed test (child processes are killed by procs.ts's hook first).
  process.once('exit', () => {
    for (const h of live) h.dispose();
  });
}

/** `runId`: chosen by the caller when it must claim the run (see world.ts) before its namespaces exist. */
export function createHosts(count = 3, runId = newRunId()): Hosts {
  guardExit();
  // 10.<128..250>.<0..255>.0/24: a private range, unlikely to meet a real network of the machine.
  const subnet = `10.${randomInt(128, 251)}.${randomInt(0, 256)}`;
  const bridge = `${PREFIX}${runId}b`;
  const gateway = `${subnet}.1`;
  const hosts: Host[] = Array.from({ length: count }, (_, i) => ({
    name: `h${i + 1}`,
    netns: `${PREFIX}-${runId}-h${i + 1}`,
    address: `${subnet}.${11 + i}`,
    link: `${PREFIX}${runId}v${i + 1}`,
  }));
  let disposed = false;
  const world: Hosts = {
    runId,
    bridge,
    gateway,
    hosts,
    cut: (h) => void ip('link', 'set', h.link, 'down'),
    restore: (h) => void ip('link', 'set', h.link, 'up'),
    shape: (h, rateMbit) => {
      for (const [netns, dev] of [[undefined, h.link], [h.netns, 'eth0']] as const) {
        const tc = (...args: string[]) => (netns ? ip('netns', 'exec', netns, 'tc', ...args) : execFileSync('tc', args, { stdio: 'pipe' }).toString());
        try {
          tc('qdisc', 'del', 'dev', dev, 'root');
        } catch {
          // no qdisc of ours yet
        }
        // burst: at least rate × 1 ms and a few full frames, or tbf starves at high rates.
        if (rateMbit !== undefined) tc('qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', `${rateMbit}mbit`, 'burst', `${Math.max(32, Math.ceil((rateMbit * 1000) / 8 / 1000) * 2)}kb`, 'latency', '50ms');
      }
    },
    exec: (h, command, args) => ({ command: 'ip', args: ['netns', 'exec', h.netns, command, ...args] }),
    dispose: () => {
      if (disposed) return;
      disposed = true;
      live.delete(world);
      for (const h of hosts) deleteNetns(h.netns);
      for (const h of hosts) quiet('ip', ['link', 'del', h.link]);
      quiet('ip', ['link', 'del', bridge]);
    },
  };
  live.add(world);
  try {
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `${gateway}/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    for (const h of hosts) {
      ip('netns', 'add', h.netns);
      ip('link', 'add', h.link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.netns);
      ip('link', 'set', h.link, 'master', bridge);
      ip('link', 'set', h.link, 'up');
      ip('netns', 'exec', h.netns, 'ip', 'addr', 'add', `${h.address}/24`, 'dev', 'eth0');
      ip('netns', 'exec', h.netns, 'ip', 'link', 'set', 'eth0', 'up');
      ip('netns', 'exec', h.netns, 'ip', 'link', 'set', 'lo', 'up');
      ip('netns', 'exec', h.netns, 'ip', 'route', 'add', 'default', 'via', gateway);
    }
  } catch (err) {
    world.dispose();
    throw err;
  }
  return world;
}
