import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { targetKey, type Comparison, type DistributedComparison, type EntryResult } from './result';

const ratio = (ours: number | null | undefined, theirs: number | null | undefined): number | null =>
  ours == null || theirs == null || theirs === 0 ? null : ours / theirs;

/** Pairs every tfjs result with the single-thread PyTorch result of the same architecture. */
export function compare(results: EntryResult[], targets: readonly number[]): Comparison[] {
  const comparisons: Comparison[] = [];
  for (const ours of results.filter((r) => r.framework === 'tfjs')) {
    const torch = results.find((r) => r.framework === 'pytorch' && r.threads === 1 && r.arch === ours.arch);
    if (!torch) continue;
    comparisons.push({
      backend: ours.backend,
      arch: ours.arch,
      samplesPerSec: ratio(ours.samplesPerSec, torch.samplesPerSec) ?? 0,
      secondsToTarget: Object.fromEntries(targets.map((t) => [targetKey(t), ratio(ours.secondsToTarget[targetKey(t)], torch.secondsToTarget[targetKey(t)])])),
      peakRss: ratio(ours.peakRssMiB, torch.peakRssMiB) ?? 0,
      sameParams: ours.params === torch.params,
    });
  }
  return comparisons;
}

const DistributedFileSchema = z.object({
  target: z.number(),
  results: z.array(z.object({ name: z.string(), replicas: z.number(), arch: z.string().optional(), secondsToTarget: z.number().nullable() }).loose()),
});

/**
 * The newest bench/distributed result's two-replica, uncompressed time to its target (validation
 * accuracy there), over two-thread PyTorch's time to the same test accuracy. Null without such a file.
 */
export function compareDistributed(resultsDir: string, results: EntryResult[]): DistributedComparison | null {
  const file = readdirSync(resultsDir)
    .filter((f) => /^distributed-\d{4}-\d{2}-\d{2}\.json$/.test(f))
    .sort()
    .pop();
  if (!file) return null;
  const parsed = DistributedFileSchema.safeParse(JSON.parse(readFileSync(join(resultsDir, file), 'utf8')));
  if (!parsed.success) return null;
  const two = parsed.data.results.find((r) => r.replicas === 2 && /float32|none/.test(r.name));
  if (!two) return null;
  // bench/distributed trains cnn-small unless its result says otherwise.
  const arch = two.arch ?? 'cnn-small';
  const torch = results.find((r) => r.framework === 'pytorch' && r.threads === 2 && r.arch === arch);
  const torchSeconds = torch?.secondsToTarget[targetKey(parsed.data.target)] ?? null;
  return { source: `bench/results/${file}`, arch, target: parsed.data.target, twoReplicaSeconds: two.secondsToTarget, pytorch2ThreadSeconds: torchSeconds, ratio: ratio(two.secondsToTarget, torchSeconds) };
}
