import { serveRequests, type Bus } from '@mlpipe/bus';
import { NotFoundError, type Logger } from '@mlpipe/common';
import type { DatasetVersionContents } from '@mlpipe/contracts';
import { readDatasetManifest } from '@mlpipe/dataset';
import type { ObjectStore } from '@mlpipe/storage';
import type { Subscription } from '@nats-io/nats-core';
import type { WatcherViews } from './watcherViews';

/**
 * The watcher's read API (watcher.* in REQUESTS): what it accepted and rejected and why, the
 * dataset versions it made and what each holds, and every drift window it judged.
 */
export function serveWatcherRequests(bus: Bus, views: WatcherViews, store: ObjectStore, logger: Logger): Subscription[] {
  return [
    serveRequests(bus, 'watcher.batches.list', async (req) => ({ batches: await views.batches(req) }), logger),
    serveRequests(bus, 'watcher.datasets.list', async (req) => ({ versions: await views.versions(req) }), logger),
    serveRequests(
      bus,
      'watcher.datasets.get',
      async (req): Promise<DatasetVersionContents> => {
        const version = await views.version(req.id);
        if (!version) throw new NotFoundError(`no dataset version ${req.id}`);
        // The manifest in the store is the version's whole content; the rows add where each batch came from.
        const manifest = await readDatasetManifest(store, version.dataset, version.id);
        const known = await views.batchesByHash([...manifest.trainBatches, ...manifest.testBatches]);
        const entry = (split: 'train' | 'test') => (contentHash: string) => {
          const b = known.get(contentHash);
          return { split, contentHash, sourcePrefix: b?.sourcePrefix ?? null, samples: b?.samples ?? null, classCounts: b?.classCounts ?? null };
        };
        return { version, batches: [...manifest.trainBatches.map(entry('train')), ...manifest.testBatches.map(entry('test'))] };
      },
      logger,
    ),
    serveRequests(bus, 'watcher.drift.windows', async (req) => ({ windows: await views.windows(req) }), logger),
  ];
}
