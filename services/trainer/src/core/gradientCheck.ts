/**
 * What a member's gradient must satisfy before it counts: finite everywhere (one NaN would
 * poison every replica's weights through the mean) and computed over exactly the samples of the
 * member's shard of the step (a larger count would outweigh the others in the mean).
 */
export type GradientFault = 'non-finite' | 'wrong-count';

export interface GradientClaim {
  gradSum: Float32Array;
  lossSum: number;
  count: number;
  correct: number;
}

export function gradientFault(g: GradientClaim, shardCount: number): GradientFault | undefined {
  if (g.count !== shardCount || g.correct > g.count) return 'wrong-count';
  if (!Number.isFinite(g.lossSum) || !allFinite(g.gradSum)) return 'non-finite';
  return undefined;
}

export function allFinite(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i] as number)) return false;
  return true;
}
