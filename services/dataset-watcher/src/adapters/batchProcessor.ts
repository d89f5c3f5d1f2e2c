import { performance } from 'node:perf_hooks';
import { publishEvent, type Bus } from '@mlpipe/bus';
import type { Logger } from '@mlpipe/common';
import {
  computeDatasetManifest,
  readDatasetManifest,
  readIncomingBatch,
  sampleHashes,
  sha256Hex,
  validateBatch,
  writeDatasetManifest,
  writeNormalisedBatch,
  type IncomingLimits,
  type ValidationPolicy,
} from '@mlpipe/dataset';
import type { ObjectStore } from '@mlpipe/storage';
import { batchIdOf } from '../core/batchId';
import type { WatcherRepository } from './watcherRepository';

export type BatchOutcome = { status: 'validated'; contentHash: string; versionId: string } | { status: 'rejected'; reasons: string[] } | { status: 'skipped' };

export interface ProcessorDeps {
  store: ObjectStore;
  bus: Bus;
  repo: WatcherRepository;
  policy: ValidationPolicy;
  /** Bytes, samples and CSV rows one batch may have (the defaults without them). */
  limits?: IncomingLimits;
  logger: Logger;
  onOutcome?: (status: 'validated' | 'rejected', samples: number, seconds: number) => void;
}

const SOURCE = 'dataset-watcher';

/**
 * Takes one complete incoming batch through validation. A valid batch gets a normalised copy and
 * a new dataset version (its manifest in the store), then the event, then the database record: a crash before the record
 * makes the batch be processed again, and the deterministic event id keeps its event single.
 */
export async function processBatch(prefix: string, deps: ProcessorDeps): Promise<BatchOutcome> {
  const { store, bus, repo, logger } = deps;
  if (await repo.isProcessed(prefix)) return { status: 'skipped' };
  const started = performance.now();
  const batchId = batchIdOf(prefix);
  const log = logger.child({ batch: batchId, prefix });
  const reject = async (reasons: string[]): Promise<BatchOutcome> => {
    await publishEvent(bus, 'data.batch.rejected', { batchId, sourcePrefix: prefix, reasons }, {
      source: SOURCE,
      eventId: `data.batch.rejected:${sha256Hex(new TextEncoder().encode(prefix))}`,
    });
    await repo.recordRejected(prefix, batchId, reasons);
    deps.onOutcome?.('rejected', 0, (performance.now() - started) / 1000);
    log.warn({ reasons }, 'batch rejected');
    return { status: 'rejected', reasons };
  };

  const decoded = await readIncomingBatch(store, prefix, deps.limits);
  if (!decoded.ok) return reject(decoded.reasons);
  const { manifest, set } = decoded;
  const hashes = sampleHashes(set);
  const known = await repo.knownAmong(hashes);
  const report = validateBatch(set, hashes, (h) => known.has(h.toString('hex')), deps.policy);
  if (!report.ok) return reject(report.reasons);

  const { prefix: normalisedPrefix, manifest: normalised } = await writeNormalisedBatch(store, set, {
    dataset: manifest.dataset,
    split: manifest.split,
    classCounts: report.classCounts,
    sourcePrefix: prefix,
  });
  const previousId = await repo.latestVersionId(manifest.dataset);
  const previous = previousId ? await readDatasetManifest(store, manifest.dataset, previousId) : undefined;
  const sizes = await repo.batchSamples([...(previous?.trainBatches ?? []), ...(previous?.testBatches ?? [])]);
  const entry = (hash: string) => ({ hash, samples: sizes.get(hash) ?? 0 });
  const train = (previous?.trainBatches ?? []).map(entry);
  const test = (previous?.testBatches ?? []).map(entry);
  (manifest.split === 'train' ? train : test).push({ hash: normalised.contentHash, samples: set.count });
  // The manifest is stored first; the event carries only its key, counts and hash (bounded in size).
  const version = await writeDatasetManifest(store, computeDatasetManifest(manifest.dataset, train, test));

  const warnings = [...decoded.warnings, ...report.warnings];
  await publishEvent(
    bus,
    'data.batch.validated',
    {
      batchId,
      sourcePrefix: prefix,
      dataset: manifest.dataset,
      split: manifest.split,
      contentHash: normalised.contentHash,
      samples: set.count,
      classCounts: report.classCounts,
      normalisedPrefix,
      warnings,
      datasetVersion: version,
    },
    { source: SOURCE, eventId: `data.batch.validated:${normalised.contentHash}:${version.id}` },
  );
  await repo.recordValidated({
    sourcePrefix: prefix,
    batchId,
    dataset: manifest.dataset,
    split: manifest.split,
    contentHash: normalised.contentHash,
    samples: set.count,
    classCounts: report.classCounts,
    warnings,
    sampleHashes: hashes,
    version,
  });
  deps.onOutcome?.('validated', set.count, (performance.now() - started) / 1000);
  log.info({ samples: set.count, version: version.id.slice(0, 12), warnings }, 'batch validated');
  return { status: 'validated', contentHash: normalised.contentHash, versionId: version.id };
}
