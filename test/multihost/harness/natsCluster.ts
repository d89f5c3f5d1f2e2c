import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '@mlpipe/common';
import { ManagedProcess } from '../../chaos/harness/procs';
import type { Host, Hosts } from './hosts';

const BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
const CLIENT_PORT = 4222;
const ROUTE_PORT = 6222;
const MONITOR_PORT = 8222;

/** One server of the cluster, on its host; a ManagedProcess, so it can be killed and started again over its store. */
export interface ClusterServer {
  readonly name: string;
  readonly host: Host;
  readonly url: string;
  readonly proc: ManagedProcess;
  /** Starts it (again) and waits until it reports itself healthy with JetStream current. */
  start(): Promise<void>;
}

export interface NatsCluster {
  readonly servers: ClusterServer[];
  /** Every server's client URL, comma-separated (NATS_URL for a client outside the hosts). */
  readonly urls: string;
  /** Resolves once every running server is healthy (routes up, JetStream meta leader known). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * A nats-server on every host, joined by routes into one cluster with JetStream on each, so that
 * streams created with STREAM_REPLICAS=3 keep a copy on every host. Pings every 2 s (the shipped
 * 2 min would keep a dead route or client "connected" for minutes after its host is cut off).
 */
function configOf(server: string, host: Host, peers: Host[], cluster: string, storeDir: string): string {
  return [
    `server_name: ${server}`,
    `listen: "${host.address}:${CLIENT_PORT}"`,
    `http: "${host.address}:${MONITOR_PORT}"`,
    'ping_interval: "2s"',
    'ping_max: 3',
    `jetstream { store_dir: "${storeDir}", max_memory_store: 64MB, max_file_store: 2GB }`,
    'cluster {',
    `  name: ${cluster}`,
    `  listen: "${host.address}:${ROUTE_PORT}"`,
    `  routes: [${peers.map((p) => `"nats-route://${p.address}:${ROUTE_PORT}"`).join(', ')}]`,
    '  connect_retries: 600',
    '}',
    '',
  ].join('\n');
}

async function healthy(host: Host): Promise<boolean> {
  try {
    const res = await fetch(`http://${host.address}:${MONITOR_PORT}/healthz`, { signal: AbortSignal.timeout(2000) });
    return res.ok;
  } catch {
    return false;
  }
}

export function startNatsCluster(world: Hosts, dir: string): NatsCluster {
  const servers: ClusterServer[] = world.hosts.map((host) => {
    const name = `nats-${host.name}`;
    const storeDir = join(dir, name, 'store');
    mkdirSync(storeDir, { recursive: true });
    const configFile = join(dir, name, 'nats.conf');
    writeFileSync(configFile, configOf(name, host, world.hosts.filter((h) => h !== host), `mlmh-${world.runId}`, storeDir));
    const spawnAs = world.exec(host, BIN, ['-c', configFile]);
    const proc = new ManagedProcess({ name, command: spawnAs.command, args: spawnAs.args, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, cwd: dir, logFile: join(dir, `${name}.log`) });
    return {
      name,
      host,
      url: `nats://${host.address}:${CLIENT_PORT}`,
      proc,
      start: async () => {
        proc.start();
        await eventually(
          async () => {
            if (!proc.running()) throw new Error(`${name} exited while starting:\n${proc.tail(15)}`);
            return healthy(host);
          },
          30_000,
          `${name} to be healthy`,
        );
      },
    };
  });
  const waitHealthy = async (timeoutMs = 60_000) => {
    await eventually(async () => (await Promise.all(servers.filter((s) => s.proc.running()).map((s) => healthy(s.host)))).every(Boolean), timeoutMs, 'every NATS server of the cluster to be healthy');
  };
  return {
    servers,
    urls: servers.map((s) => s.url).join(','),
    waitHealthy,
    dispose: async () => {
      await Promise.all(servers.map((s) => s.proc.dispose()));
    },
  };
}
