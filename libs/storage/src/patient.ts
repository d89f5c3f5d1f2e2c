import { retryWhileTransient, type RetryOptions } from '@mlpipe/common';
import type { ObjectStore } from './types';

/**
 * The same store, but every call waits out a transient failure (the store restarting, a network
 * blip) for up to `forMs` before it gives up: an outage of a few minutes costs time, not the work.
 * "Not found" and other permanent answers come back at once.
 */
export function patientStore(store: ObjectStore, opts: Omit<RetryOptions, 'signal'>): ObjectStore {
  const patiently = <T>(work: () => Promise<T>) => retryWhileTransient(work, opts);
  return {
    description: store.description,
    ensureReady: () => patiently(() => store.ensureReady()),
    put: (key, body, putOpts) => patiently(() => store.put(key, body, putOpts)),
    get: (key) => patiently(() => store.get(key)),
    head: (key) => patiently(() => store.head(key)),
    list: (prefix) => patiently(() => store.list(prefix)),
    delete: (key) => patiently(() => store.delete(key)),
  };
}
