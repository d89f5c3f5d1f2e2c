import { join, resolve } from 'node:path';
import { eventually } from '@mlpipe/common';
import { freePort } from '@mlpipe/runtime';
import { ManagedProcess } from './procs';

export const ROOT = resolve(import.meta.dirname, '../../..');

export type ServiceName = 'orchestrator' | 'registry' | 'trainer' | 'gateway';

/**
 * One mlpipe service as a real process, started the way every deployment starts it
 * (`node --import tsx services/<svc>/src/main.ts`, configured by environment only).
 */
export interface ServiceProcess {
  /** The instance name: the service, or the replica id (trainer-1, gateway-a, …). */
  readonly id: string;
  readonly service: ServiceName;
  readonly port: number;
  readonly url: string;
  readonly proc: ManagedProcess;
  /** Starts it (again) and waits until /readyz answers 200. */
  start(timeoutMs?: number): Promise<void>;
  waitReady(timeoutMs?: number): Promise<void>;
}

/** Only what node needs from the test's environment: a stray TRAINER_* or NATS_URL must not leak in. */
function baseEnv(): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'];
  return Object.fromEntries(keep.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]));
}

export async function defineService(opts: {
  service: ServiceName;
  id?: string;
  env: Record<string, string>;
  logDir: string;
  port?: number;
}): Promise<ServiceProcess> {
  const id = opts.id ?? opts.service;
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const proc = new ManagedProcess({
    name: id,
    command: process.execPath,
    args: ['--import', 'tsx', join(ROOT, 'services', opts.service, 'src', 'main.ts')],
    cwd: ROOT,
    env: { ...baseEnv(), ...opts.env, HTTP_PORT: String(port) },
    logFile: join(opts.logDir, `${id}.log`),
  });
  const waitReady = async (timeoutMs = 90_000) => {
    await eventually(
      async () => {
        if (!proc.running()) throw new Error(`${id} exited while starting:\n${proc.tail(20)}`);
        return fetch(`${url}/readyz`).then(
          (r) => r.ok,
          () => false,
        );
      },
      timeoutMs,
      `${id} to be ready on :${port}`,
    );
  };
  return {
    id,
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
