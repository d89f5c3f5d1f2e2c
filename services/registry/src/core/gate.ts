import type { GateDecision } from '@mlpipe/contracts';

export interface GateCandidate {
  testAccuracy: number;
  perClassAccuracy: number[];
}

export interface GateChampion {
  version: number;
  testAccuracy: number;
  /** True when testAccuracy was measured on the candidate's own test data (the trainer scored the champion too). */
  sameData?: boolean;
}

export interface GatePolicy {
  /** The candidate must beat the champion's test accuracy by at least this much. */
  margin: number;
  /** No class may have a test accuracy below this. */
  classFloor: number;
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

/**
 * The promotion gate: a new version becomes champion only if every class clears the floor and
 * it beats the current champion (if any) by the margin; otherwise it is a challenger. The
 * reason always carries the numbers it was decided on.
 */
export function decideGate(candidate: GateCandidate, champion: GateChampion | null, policy: GatePolicy): GateDecision {
  const weakest = candidate.perClassAccuracy.reduce(
    (w, acc, cls) => (acc < w.acc ? { cls, acc } : w),
    { cls: -1, acc: Number.POSITIVE_INFINITY },
  );
  if (weakest.cls >= 0 && weakest.acc < policy.classFloor) {
    return {
      outcome: 'challenger',
      reason: `class ${weakest.cls} test accuracy ${pct(weakest.acc)} is below the floor ${pct(policy.classFloor)}`,
    };
  }
  if (!champion) {
    return { outcome: 'champion', reason: `first version to pass the gate: test accuracy ${pct(candidate.testAccuracy)}, every class ≥ ${pct(policy.classFloor)}` };
  }
  const gain = candidate.testAccuracy - champion.testAccuracy;
  const basis = champion.sameData ? ' on the same test data' : '';
  if (gain >= policy.margin - 1e-12) {
    return {
      outcome: 'champion',
      reason: `test accuracy ${pct(candidate.testAccuracy)} beats champion v${champion.version} (${pct(champion.testAccuracy)}${basis}) by ${pct(gain)} ≥ margin ${pct(policy.margin)}`,
    };
  }
  return {
    outcome: 'challenger',
    reason: `test accuracy ${pct(candidate.testAccuracy)} does not beat champion v${champion.version} (${pct(champion.testAccuracy)}${basis}) by the margin ${pct(policy.margin)}`,
  };
}
