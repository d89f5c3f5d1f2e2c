import { createRequire } from 'node:module';

/**
 * The statistical tests behind the drift decision: two-sample Kolmogorov–Smirnov, the population
 * stability index over reference-quantile bins, and chi-square goodness of fit. Pure functions on
 * numbers; samples given to KS and the binning must be sorted ascending.
 */

export type Sorted = ArrayLike<number>;

export interface KsResult {
  /** Largest distance between the two empirical CDFs, 0..1. */
  d: number;
  pValue: number;
}

/** Two-sample KS test of two sorted samples; ties are handled by stepping over equal values together. */
export function ksTwoSample(a: Sorted, b: Sorted): KsResult {
  if (a.length === 0 || b.length === 0) throw new RangeError('ksTwoSample needs two non-empty samples');
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < a.length && j < b.length) {
    const x = Math.min(a[i] as number, b[j] as number);
    while (i < a.length && (a[i] as number) <= x) i++;
    while (j < b.length && (b[j] as number) <= x) j++;
    d = Math.max(d, Math.abs(i / a.length - j / b.length));
  }
  const effective = (a.length * b.length) / (a.length + b.length);
  return { d, pValue: kolmogorovSurvival(Math.sqrt(effective) * d) };
}

/**
 * Q(λ) = P(K > λ), Kolmogorov's limiting distribution of √n·D. Written here because neither jstat
 * nor simple-statistics has it and stdlib only ships the one-sample test. Two series, each where it
 * converges in a few terms (as scipy.special.kolmogorov does); checked against scipy in the tests.
 */
export function kolmogorovSurvival(lambda: number): number {
  if (Number.isNaN(lambda)) return Number.NaN;
  if (lambda <= 0) return 1;
  if (lambda < 1.18) {
    // P(K ≤ λ) = √(2π)/λ · Σ_{k≥1} exp(−(2k−1)²π²/(8λ²))
    let cdf = 0;
    for (let k = 1; k <= 20; k++) {
      const term = Math.exp(-((2 * k - 1) ** 2) * Math.PI * Math.PI / (8 * lambda * lambda));
      cdf += term;
      if (term < 1e-17) break;
    }
    return Math.min(1, Math.max(0, 1 - (Math.sqrt(2 * Math.PI) / lambda) * cdf));
  }
  // Q(λ) = 2 Σ_{k≥1} (−1)^{k−1} exp(−2k²λ²)
  let sum = 0;
  for (let k = 1; k <= 20; k++) {
    const term = Math.exp(-2 * k * k * lambda * lambda);
    sum += k % 2 === 1 ? term : -term;
    if (term < 1e-17) break;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

/** Empty bins get this share so that the log stays finite (a common choice; it caps one bin's PSI near 0.9 per 10% of mass). */
export const PSI_EPSILON = 1e-4;

/** Population stability index Σ (a − e)·ln(a / e) of two share vectors over the same bins. */
export function psi(expected: ArrayLike<number>, actual: ArrayLike<number>, epsilon = PSI_EPSILON): number {
  if (expected.length !== actual.length) throw new RangeError(`psi: ${expected.length} expected shares but ${actual.length} actual ones`);
  let total = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(epsilon, expected[i] as number);
    const a = Math.max(epsilon, actual[i] as number);
    total += (a - e) * Math.log(a / e);
  }
  return total;
}

/** Upper edges of up to `bins` bins at the reference's quantiles; repeated values (ties) collapse into one edge. */
export function quantileEdges(reference: Sorted, bins: number): number[] {
  const edges: number[] = [];
  for (let k = 1; k < bins; k++) {
    const q = reference[Math.min(reference.length - 1, Math.floor((k * reference.length) / bins))] as number;
    if (edges.length === 0 || q > (edges[edges.length - 1] as number)) edges.push(q);
  }
  return edges;
}

/** Share of values in each bin: bin b holds values in (edges[b−1], edges[b]]; the last bin is open above. */
export function binShares(values: ArrayLike<number>, edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    let lo = 0;
    let hi = edges.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (v <= (edges[mid] as number)) hi = mid;
      else lo = mid + 1;
    }
    counts[lo]! += 1;
  }
  return counts.map((c) => c / Math.max(1, values.length));
}

/** PSI of a sample against a sorted reference, binned at the reference's quantiles (deciles by default). */
export function quantilePsi(reference: Sorted, sample: ArrayLike<number>, bins = 10): number {
  const edges = quantileEdges(reference, bins);
  return psi(binShares(reference, edges), binShares(sample, edges));
}

export interface ChiSquareResult {
  statistic: number;
  dof: number;
  pValue: number;
}

/**
 * Chi-square goodness of fit of observed counts to expected shares. Categories the reference never
 * saw (share 0) are left out of the statistic: the PSI, with its epsilon, is what notices them.
 */
export function chiSquareGoodnessOfFit(observed: ArrayLike<number>, expectedShares: ArrayLike<number>): ChiSquareResult {
  let n = 0;
  for (let i = 0; i < observed.length; i++) n += observed[i] as number;
  let statistic = 0;
  let cells = 0;
  for (let i = 0; i < observed.length; i++) {
    const e = (expectedShares[i] ?? 0) * n;
    if (e <= 0) continue;
    const o = observed[i] as number;
    statistic += ((o - e) * (o - e)) / e;
    cells++;
  }
  const dof = Math.max(1, cells - 1);
  return { statistic, dof, pValue: Math.max(0, 1 - chiSquareCdf(statistic, dof)) };
}

interface JStatChiSquare {
  jStat: { chisquare: { cdf(x: number, dof: number): number } };
}

/** jstat is CommonJS without types; required here (not at module load) with the one signature we use. */
function chiSquareCdf(x: number, dof: number): number {
  const { jStat } = createRequire(import.meta.url)('jstat') as JStatChiSquare;
  return jStat.chisquare.cdf(x, dof);
}
