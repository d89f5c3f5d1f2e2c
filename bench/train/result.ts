import { z } from 'zod';

/**
 * What one benchmark entry prints as its last stdout line — a tfjs backend (tfjsEntry.ts) or
 * PyTorch (torch_bench.py), the same shape from both so the report treats them alike.
 */
export const EntryResultSchema = z.object({
  framework: z.enum(['tfjs', 'pytorch']),
  version: z.string(),
  backend: z.string(),
  arch: z.string(),
  threads: z.number().int().positive(),
  params: z.number().int().nonnegative(),
  samplesPerSec: z.number().nonnegative(),
  trainedSamples: z.number().int().nonnegative(),
  trainSeconds: z.number().nonnegative(),
  evaluations: z.number().int().nonnegative(),
  /** Keyed by the target as written ("0.985"): training seconds until test accuracy first reached it. */
  secondsToTarget: z.record(z.string(), z.number().nullable()),
  /** Null where accuracy was not measured (the pure-JS CPU backend: throughput only). */
  bestTestAccuracy: z.number().nullable(),
  peakRssMiB: z.number().nonnegative(),
  capSeconds: z.number().positive(),
});
export type EntryResult = z.infer<typeof EntryResultSchema>;

export const TorchStatusSchema = z.discriminatedUnion('available', [
  z.object({ available: z.literal(true), version: z.string() }),
  z.object({ available: z.literal(false), reason: z.string() }),
]);
export type TorchStatus = z.infer<typeof TorchStatusSchema>;

/** ours / PyTorch for one tfjs entry against single-thread PyTorch on the same net. */
export const ComparisonSchema = z.object({
  backend: z.string(),
  arch: z.string(),
  /** Throughput ratio: the goal is ≥ 0.4. */
  samplesPerSec: z.number(),
  /** Time-to-accuracy ratio per target; null where either side did not reach it. */
  secondsToTarget: z.record(z.string(), z.number().nullable()),
  peakRss: z.number(),
  /** False when the PyTorch copy of the net has a different parameter count: the mirror has drifted. */
  sameParams: z.boolean(),
});
export type Comparison = z.infer<typeof ComparisonSchema>;

/** Two data-parallel replicas (bench/distributed) against two-thread PyTorch, same net and target. */
export const DistributedComparisonSchema = z.object({
  source: z.string(),
  arch: z.string(),
  target: z.number(),
  twoReplicaSeconds: z.number().nullable(),
  pytorch2ThreadSeconds: z.number().nullable(),
  ratio: z.number().nullable(),
});
export type DistributedComparison = z.infer<typeof DistributedComparisonSchema>;

/** bench/results/train-<date>.json. */
export const TrainReportSchema = z.object({
  date: z.string(),
  /** loadAverage: the 1-minute load when the run began; other work on the cores skews every figure. */
  machine: z.object({ cpus: z.number(), cpuModel: z.string(), memoryGiB: z.number(), node: z.string(), loadAverage: z.number().optional() }),
  tfjs: z.string(),
  pytorch: TorchStatusSchema,
  settings: z
    .object({ targets: z.array(z.number()), capSeconds: z.record(z.string(), z.number()), quick: z.boolean(), batchSize: z.number(), learningRate: z.number(), evalEverySamples: z.number(), testSamples: z.number() })
    .loose(),
  results: z.array(EntryResultSchema),
  comparisons: z.array(ComparisonSchema),
  distributed: DistributedComparisonSchema.nullable(),
  /** Entries not run, each with why. */
  skipped: z.array(z.string()),
});
export type TrainReport = z.infer<typeof TrainReportSchema>;

/** The last JSON line of a child's stdout, validated; throws naming the entry if there is none. */
export function parseEntryOutput(stdout: string, entry: string): EntryResult {
  const line = stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (!line) throw new Error(`${entry} printed no JSON result line; its stdout was: ${stdout.slice(-500) || '(empty)'}`);
  return EntryResultSchema.parse(JSON.parse(line));
}

export const targetKey = (target: number): string => String(target);
