import type { ObjectInfo, ObjectStore } from './types';

/**
 * Yields objects under a prefix that were not seen before (by key and etag), listing every
 * `intervalMs` until the signal aborts. The polling fallback for stores without notifications.
 */
export async function* pollNewObjects(
  store: ObjectStore,
  prefix: string,
  opts: { intervalMs: number; signal: AbortSignal; seen?: Set<string> },
): AsyncIterable<ObjectInfo> {
  const seen = opts.seen ?? new Set<string>();
  while (!opts.signal.aborted) {
    for (const o of await store.list(prefix)) {
      const id = `${o.key}\u0000${o.etag}`;
      if (seen.has(id)) continue;
      seen.add(id);
      yield o;
      if (opts.signal.aborted) return;
    }
    await sleep(opts.intervalMs, opts.signal);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
