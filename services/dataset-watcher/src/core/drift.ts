import jstat from 'jstat';

/**
 * Drift of model inputs and predictions against the champion's training data.
 * Inputs: five interpretable features per 28×28 image (white ink on black) compared with a
 * two-sample Kolmogorov–Smirnov test and the population stability index. Predictions: the share of
 * each predicted class against the training labels' shares, by chi-square goodness of fit and PSI.
 * Everything here is pure and JSON-serialisable, so a reference can be stored next to a version.
 */

const SIDE = 28;
const PIXELS = SIDE * SIDE;
const INK = 128;

export const FEATURES = ['mean_intensity', 'ink_share', 'centroid_x', 'centroid_y', 'ink_spread'] as const;
export type Feature = (typeof FEATURES)[number];

/** One image's features; an image without ink gets centroid 0.5 (centre) and spread 0. */
export function imageFeatures(image: Uint8Array): Record<Feature, number> {
  let sum = 0;
  let ink = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < PIXELS; i++) {
    const v = image[i] as number;
    sum += v;
    if (v < INK) continue;
    const x = (i % SIDE) / (SIDE - 1);
    const y = Math.floor(i / SIDE) / (SIDE - 1);
    ink++;
    sx += x;
    sy += y;
    sxx += x * x;
    syy += y * y;
  }
  const cx = ink ? sx / ink : 0.5;
  const cy = ink ? sy / ink : 0.5;
  const spread = ink ? Math.sqrt(Math.max(0, sxx / ink - cx * cx) + Math.max(0, syy / ink - cy * cy)) : 0;
  return { mean_intensity: sum / PIXELS / 255, ink_share: ink / PIXELS, centroid_x: cx, centroid_y: cy, ink_spread: spread };
}

export interface DriftReference {
  /** Sorted feature values of (a sample of) the training images. */
  features: Record<Feature, number[]>;
  /** Share of each class among the training labels. */
  classShares: number[];
  samples: number;
}

/** The reference from training images (every `stride`-th up to `max`) and all their labels. */
export function buildReference(images: Uint8Array, labels: Uint8Array, count: number, max = 5000): DriftReference {
  const stride = Math.max(1, Math.floor(count / max));
  const features = Object.fromEntries(FEATURES.map((f) => [f, [] as number[]])) as Record<Feature, number[]>;
  for (let i = 0; i < count; i += stride) {
    const f = imageFeatures(images.subarray(i * PIXELS, (i + 1) * PIXELS));
    for (const k of FEATURES) features[k].push(f[k]);
  }
  for (const k of FEATURES) features[k].sort((a, b) => a - b);
  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < count; i++) counts[labels[i] as number]! += 1;
  return { features, classShares: counts.map((c) => c / Math.max(1, count)), samples: features.mean_intensity.length };
}

/** Two-sample KS statistic D (both samples sorted ascending) and its asymptotic p-value. */
export function ksTwoSample(a: readonly number[], b: readonly number[]): { d: number; pValue: number } {
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < a.length && j < b.length) {
    const x = Math.min(a[i] as number, b[j] as number);
    while (i < a.length && (a[i] as number) <= x) i++;
    while (j < b.length && (b[j] as number) <= x) j++;
    d = Math.max(d, Math.abs(i / a.length - j / b.length));
  }
  const n = (a.length * b.length) / (a.length + b.length);
  // Kolmogorov's limiting distribution with Stephens' small-sample correction.
  const lambda = (Math.sqrt(n) + 0.12 + 0.11 / Math.sqrt(n)) * d;
  return { d, pValue: kolmogorovQ(lambda) };
}

/** Q(λ) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²λ²}: the probability of a D at least this large under no drift. */
function kolmogorovQ(lambda: number): number {
  if (lambda < 0.2) return 1;
  let sum = 0;
  for (let k = 1; k <= 100; k++) {
    const term = (k % 2 ? 1 : -1) * Math.exp(-2 * k * k * lambda * lambda);
    sum += term;
    if (Math.abs(term) < 1e-12) break;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

const EPS = 1e-4;

/** PSI over bins given as expected and actual shares (each summing to 1). */
export function psi(expected: readonly number[], actual: readonly number[]): number {
  let total = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(EPS, expected[i] as number);
    const a = Math.max(EPS, actual[i] as number);
    total += (a - e) * Math.log(a / e);
  }
  return total;
}

/** PSI of a sample against a sorted reference, over the reference's deciles. */
export function featurePsi(reference: readonly number[], sample: readonly number[], bins = 10): number {
  const edges = Array.from({ length: bins - 1 }, (_, k) => reference[Math.floor(((k + 1) * reference.length) / bins)] as number);
  const share = (values: readonly number[]) => {
    const counts = new Array<number>(bins).fill(0);
    for (const v of values) {
      let b = 0;
      while (b < edges.length && v > (edges[b] as number)) b++;
      counts[b]! += 1;
    }
    return counts.map((c) => c / Math.max(1, values.length));
  };
  return psi(share(reference), share(sample));
}

/** Chi-square goodness of fit of observed class counts to expected shares (classes with no expectation pooled out). */
export function chiSquare(observed: readonly number[], expectedShares: readonly number[]): { statistic: number; dof: number; pValue: number } {
  const n = observed.reduce((a, b) => a + b, 0);
  let statistic = 0;
  let cells = 0;
  observed.forEach((o, i) => {
    const e = (expectedShares[i] ?? 0) * n;
    if (e <= 0) return;
    statistic += ((o - e) * (o - e)) / e;
    cells++;
  });
  const dof = Math.max(1, cells - 1);
  return { statistic, dof, pValue: 1 - jstat.jStat.chisquare.cdf(statistic, dof) };
}

export interface DriftThresholds {
  /** PSI at or above this is drift on its own (0.25 is the usual "significant shift"). */
  psi: number;
  /** A significant test also needs at least this PSI: with hundreds of samples KS finds differences too small to matter. */
  minPsiWithTest: number;
  /** Family-wise significance, Bonferroni-corrected over the tests. */
  alpha: number;
  /** Fewer samples than this: no verdict. */
  minSamples: number;
}

export const DEFAULT_THRESHOLDS: DriftThresholds = { psi: 0.25, minPsiWithTest: 0.1, alpha: 0.01, minSamples: 100 };

export interface DriftTest {
  name: string;
  kind: 'ks' | 'chi-square';
  statistic: number;
  pValue: number;
  psi: number;
  drifted: boolean;
}

export interface DriftAssessment {
  samples: number;
  drifted: boolean;
  reasons: string[];
  tests: DriftTest[];
}

/** Input features and predicted classes of a window against the reference. */
export function assessDrift(ref: DriftReference, images: readonly Uint8Array[], predictedClasses: readonly number[], t: DriftThresholds = DEFAULT_THRESHOLDS): DriftAssessment {
  if (images.length < t.minSamples) return { samples: images.length, drifted: false, reasons: [`too few samples (${images.length} < ${t.minSamples}) to judge`], tests: [] };
  const perTestAlpha = t.alpha / (FEATURES.length + 1);
  const features = images.map(imageFeatures);
  const tests: DriftTest[] = FEATURES.map((f) => {
    const sample = features.map((x) => x[f]).sort((a, b) => a - b);
    const ks = ksTwoSample(ref.features[f], sample);
    const p = featurePsi(ref.features[f], sample);
    return { name: f, kind: 'ks', statistic: ks.d, pValue: ks.pValue, psi: p, drifted: p >= t.psi || (ks.pValue < perTestAlpha && p >= t.minPsiWithTest) };
  });
  const counts = new Array<number>(10).fill(0);
  for (const c of predictedClasses) counts[c]! += 1;
  const chi = chiSquare(counts, ref.classShares);
  const classPsi = psi(ref.classShares, counts.map((c) => c / Math.max(1, predictedClasses.length)));
  tests.push({ name: 'predicted_class', kind: 'chi-square', statistic: chi.statistic, pValue: chi.pValue, psi: classPsi, drifted: classPsi >= t.psi || (chi.pValue < perTestAlpha && classPsi >= t.minPsiWithTest) });
  const reasons = tests
    .filter((x) => x.drifted)
    .map((x) => `${x.name}: PSI ${x.psi.toFixed(3)}, ${x.kind === 'ks' ? 'KS D' : 'chi²'} ${x.statistic.toFixed(3)} (p=${x.pValue.toExponential(2)})`);
  return { samples: images.length, drifted: reasons.length > 0, reasons, tests };
}
