import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { freePort } from '@mlpipe/runtime';

/** What s3rver (a Koa app) offers beyond libs/testing's declaration: its object events and HTTP server. */
interface S3rverInternals {
  on(event: 'event', listener: (e: { Records: { eventName: string; s3: { object: { key: string } } }[] }) => void): void;
  httpServer?: Server;
}

/**
 * An S3 API (s3rver) that can become unavailable: stop() closes it abruptly (open connections are
 * cut, new ones refused) and start() brings it back on the same port over the same folder, so
 * every object written before is there again. onObject() reports each object written, the moment
 * it is stored: the hook for "fault during a checkpoint".
 *
 * libs/testing's startS3Server picks a new port and folder and removes the folder on close, so
 * it cannot come back as the same store; this keeps both.
 */
export interface ChaosObjectStore {
  readonly endpoint: string;
  readonly accessKey: string;
  readonly secretKey: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  running(): boolean;
  /** Called with every key written (PUT or copy); returns an unsubscribe function. */
  onObject(listener: (key: string) => void): () => void;
  dispose(): Promise<void>;
}

export async function startChaosObjectStore(): Promise<ChaosObjectStore> {
  const directory = mkdtempSync(join(tmpdir(), 'mlpipe-chaos-s3-'));
  const port = await freePort();
  const listeners = new Set<(key: string) => void>();
  let server: (S3rver & S3rverInternals) | undefined;

  const start = async () => {
    if (server) return;
    const next = new S3rver({ port, address: '127.0.0.1', silent: true, directory }) as S3rver & S3rverInternals;
    next.on('event', (e) => {
      for (const r of e.Records) if (r.eventName.startsWith('ObjectCreated')) for (const l of listeners) l(r.s3.object.key);
    });
    await next.run();
    server = next;
  };
  const stop = async () => {
    const s = server;
    if (!s) return;
    server = undefined;
    const closed = s.close();
    s.httpServer?.closeAllConnections(); // unavailable now, not once in-flight requests finish
    await closed;
  };
  await start();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    // s3rver's fixed development credentials.
    accessKey: 'S3RVER',
    secretKey: 'S3RVER',
    start,
    stop,
    running: () => server !== undefined,
    onObject: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    dispose: async () => {
      await stop();
      listeners.clear();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
