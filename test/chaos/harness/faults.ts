import { storeKeys } from '@mlpipe/contracts';
import type { Cluster } from './cluster';
import type { ServiceProcess } from './services';

/** When a fault began and ended (the same instant for a kill), and what the harness saw on the way. */
export interface FaultWindow {
  start: number;
  end: number;
  notes: string[];
  /** Set when the fault came too late or too early for the moment the scenario names (a failed check). */
  missed?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Faults, each done the way an operator or a crash would: servers stopped cleanly (SIGTERM,
 * `pg_ctl -m fast`) and started again over the same data, processes killed or paused by signal.
 */

/** nats-server stopped (SIGTERM, its JetStream store kept) for `downMs`, then started again. */
export async function natsDown(c: Cluster, downMs: number): Promise<FaultWindow> {
  const start = Date.now();
  await c.nats.stop('SIGTERM');
  await sleep(downMs - (Date.now() - start));
  await c.nats.start();
  return { start, end: Date.now(), notes: [`nats-server down ${((Date.now() - start) / 1000).toFixed(1)} s`] };
}

export async function postgresDown(c: Cluster, downMs: number): Promise<FaultWindow> {
  const start = Date.now();
  await c.pg.stop();
  await sleep(downMs - (Date.now() - start));
  await c.pg.start();
  return { start, end: Date.now(), notes: [`PostgreSQL down ${((Date.now() - start) / 1000).toFixed(1)} s`] };
}

export async function storeDown(c: Cluster, downMs: number): Promise<FaultWindow> {
  const start = Date.now();
  await c.s3.stop();
  await sleep(downMs - (Date.now() - start));
  await c.s3.start();
  return { start, end: Date.now(), notes: [`S3 API down ${((Date.now() - start) / 1000).toFixed(1)} s`] };
}

/**
 * SIGKILL: an instant fault (the window is the moment of the kill). With `restartAfterMs` the process
 * is started again, as its pod would be, before this resolves; `readyAt` says when it answered again.
 */
export async function killProcess(s: ServiceProcess, restartAfterMs?: number): Promise<FaultWindow & { readyAt?: number }> {
  const start = Date.now();
  await s.proc.kill();
  const notes = [`${s.id} SIGKILLed`];
  if (restartAfterMs === undefined) return { start, end: start, notes };
  await sleep(restartAfterMs);
  await s.start();
  const readyAt = Date.now();
  notes.push(`${s.id} started again ${(restartAfterMs / 1000).toFixed(0)} s after the kill, ready after ${((readyAt - start) / 1000).toFixed(1)} s`);
  return { start, end: start, notes, readyAt };
}

/** SIGSTOP for `ms`, then SIGCONT: a process that hangs (a long GC, a frozen VM) and comes back. */
export async function pauseProcess(s: ServiceProcess, ms: number): Promise<FaultWindow> {
  const start = Date.now();
  s.proc.signal('SIGSTOP');
  await sleep(ms);
  s.proc.signal('SIGCONT');
  return { start, end: Date.now(), notes: [`${s.id} stopped (SIGSTOP) for ${(ms / 1000).toFixed(0)} s, then SIGCONT`] };
}

/** Resolves with the key of the first file of a checkpoint of `jobId`, the moment it is stored (its pointer not yet written). */
export function checkpointStarts(c: Cluster, jobId: string, timeoutMs: number): Promise<string> {
  const pointer = storeKeys.checkpointPointer(jobId);
  const folder = pointer.slice(0, pointer.lastIndexOf('/') + 1);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no checkpoint of ${jobId} written within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = c.s3.onObject((key) => {
      if (!key.startsWith(folder) || key === pointer) return;
      clearTimeout(timer);
      off();
      resolve(key);
    });
  });
}
