import { join } from 'node:path';
import { eventually } from '@mlpipe/common';
import { freePort } from '@mlpipe/runtime';
import { ManagedProcess } from '../../chaos/harness/procs';
import { ROOT, type ServiceName, type ServiceProcess } from '../../chaos/harness/services';
import type { Host, Hosts } from './hosts';

/** Only what node needs from the test's environment: a stray TRAINER_* or NATS_URL must not leak in. */
function baseEnv(): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'];
  return Object.fromEntries(keep.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]));
}

/**
 * An mlpipe service as a real process, started as every deployment starts it (node --import tsx
 * services/<svc>/src/main.ts, configured by environment only), inside a host's namespace
 * (`ip netns exec`, which execs node: the pid is node's, so kill() kills the service) or, without a
 * host, in the root namespace. Its URL is the address the harness reaches it at: the host's, or
 * the bridge's for a root service (services listen on 0.0.0.0), so hosts reach root services too.
 */
export async function defineHostService(opts: {
  world: Hosts;
  host: Host | undefined;
  service: ServiceName;
  id: string;
  env: Record<string, string>;
  logDir: string;
}): Promise<ServiceProcess> {
  const port = await freePort();
  const address = opts.host?.address ?? opts.world.gateway;
  const url = `http://${address}:${port}`;
  const node = [process.execPath, ['--import', 'tsx', join(ROOT, 'services', opts.service, 'src', 'main.ts')]] as const;
  const spawnAs = opts.host ? opts.world.exec(opts.host, node[0], [...node[1]]) : { command: node[0], args: [...node[1]] };
  const proc = new ManagedProcess({
    name: opts.id,
    command: spawnAs.command,
    args: spawnAs.args,
    cwd: ROOT,
    env: { ...baseEnv(), ...opts.env, HTTP_PORT: String(port) },
    logFile: join(opts.logDir, `${opts.id}.log`),
  });
  const waitReady = async (timeoutMs = 120_000) => {
    await eventually(
      async () => {
        if (!proc.running()) throw new Error(`${opts.id} exited while starting:\n${proc.tail(20)}`);
        return fetch(`${url}/readyz`, { signal: AbortSignal.timeout(3000) }).then(
          (r) => r.ok,
          () => false,
        );
      },
      timeoutMs,
      `${opts.id} to be ready at ${url}`,
    );
  };
  return {
    id: opts.id,
    service: opts.service,
    port,
    url,
    proc,
    waitReady,
    start: async (timeoutMs) => {
      proc.start();
      await waitReady(timeoutMs);
    },
  };
}
