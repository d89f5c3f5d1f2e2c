import pg from 'pg';
import { describeError, type Logger } from '@mlpipe/common';

export interface Listener {
  close(): Promise<void>;
}

/**
 * LISTENs on a channel from a connection of its own (not a pool slot held forever), reconnecting
 * after PostgreSQL restarts. `onNotify` also runs after every (re)connect: whatever was notified
 * while the connection was down is gone, and the caller should look. Never throws: without a
 * listener the relay still polls.
 */
export function listen(config: pg.ClientConfig, channel: string, onNotify: () => void, logger: Logger, retryMs = 1000): Listener {
  let closed = false;
  let client: pg.Client | undefined;
  let wakeRetry: (() => void) | undefined;

  const session = async (): Promise<void> => {
    const c = new pg.Client({ ...config, keepAlive: true });
    client = c;
    const ended = new Promise<void>((resolve) => {
      c.on('error', (err) => {
        if (!closed) logger.warn({ channel, err: describeError(err) }, 'outbox listener lost its connection; polling until it is back');
        resolve();
      });
      c.on('end', () => resolve());
    });
    c.on('notification', () => onNotify());
    try {
      await c.connect();
      await c.query(`listen ${channel}`);
      onNotify();
      await ended;
    } finally {
      client = undefined;
      await c.end().catch(() => undefined);
    }
  };

  const loop = (async () => {
    while (!closed) {
      await session().catch(() => undefined); // a failed connect: the next try follows
      if (closed) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, retryMs);
        wakeRetry = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wakeRetry = undefined;
    }
  })();

  return {
    close: async () => {
      closed = true;
      wakeRetry?.();
      await client?.end().catch(() => undefined);
      await loop;
    },
  };
}
