import type { DigitImages } from '@mlpipe/contracts';
import { FEATURE_NAMES, extractFeatures, type FeatureName } from './features';
import { checkPredictions, classCounts, type DriftReference, type Predictions } from './reference';
import { chiSquareGoodnessOfFit, ksTwoSample, psi, quantilePsi } from './stats';

/**
 * The drift decision. A test flags drift when its PSI is large on its own, or when it is
 * significant after a Bonferroni correction *and* its PSI shows a shift big enough to matter:
 * with hundreds of samples a KS or chi-square test also finds differences nobody should retrain for.
 */

export interface DriftOptions {
  /** PSI at or above this is drift by itself (the usual reading: < 0.1 stable, 0.1–0.2 moderate, ≥ 0.2 major). */
  majorPsi: number;
  /** A significant test needs at least this PSI to count. */
  minorPsi: number;
  /** Family-wise significance level, split evenly over the tests (Bonferroni). */
  alpha: number;
  /** Below this many images there is no verdict. */
  minSamples: number;
  /** Quantile bins for the feature PSI. */
  bins: number;
}

export const DEFAULT_DRIFT_OPTIONS: Readonly<DriftOptions> = Object.freeze({ majorPsi: 0.2, minorPsi: 0.1, alpha: 0.01, minSamples: 100, bins: 10 });

export interface FeatureDrift {
  /** KS statistic D. */
  ks: number;
  pValue: number;
  psi: number;
  drifted: boolean;
}

export interface PredictionDrift {
  chiSquare: number;
  dof: number;
  pValue: number;
  psi: number;
  drifted: boolean;
  /** Share of each predicted class in the batch. */
  classShares: number[];
}

export type DriftAssessment =
  | { status: 'too-few-samples'; drifted: false; samples: number; reasons: string[] }
  | {
      status: 'drifted' | 'stable';
      drifted: boolean;
      samples: number;
      reasons: string[];
      /** The significance level each test is held to (alpha / number of tests). */
      perTestAlpha: number;
      features: Record<FeatureName, FeatureDrift>;
      predictions: PredictionDrift;
    };

/** Input features and predicted classes of a batch against the reference. */
export function assessDrift(reference: DriftReference, batch: DigitImages, predictions: Predictions, opts: Partial<DriftOptions> = {}): DriftAssessment {
  const o: DriftOptions = { ...DEFAULT_DRIFT_OPTIONS, ...opts };
  checkPredictions(batch, predictions);
  const columns = extractFeatures(batch);
  const counts = classCounts(predictions);
  const samples = batch.count;
  if (samples < o.minSamples || samples === 0) {
    return { status: 'too-few-samples', drifted: false, samples, reasons: [`too few samples: ${samples} < ${o.minSamples}, no verdict`] };
  }
  const perTestAlpha = o.alpha / (FEATURE_NAMES.length + 1);
  const flags = (p: number, shift: number) => shift >= o.majorPsi || (p < perTestAlpha && shift >= o.minorPsi);
  const reasons: string[] = [];

  const features = {} as Record<FeatureName, FeatureDrift>;
  for (const name of FEATURE_NAMES) {
    const ref = reference.features[name];
    const sample = columns[name].sort();
    const ks = ksTwoSample(ref, sample);
    const shift = quantilePsi(ref, sample, o.bins);
    const drifted = flags(ks.pValue, shift);
    features[name] = { ks: ks.d, pValue: ks.pValue, psi: shift, drifted };
    if (drifted) reasons.push(`${name}: PSI ${shift.toFixed(3)}, KS D ${ks.d.toFixed(3)} (p=${ks.pValue.toExponential(2)})`);
  }

  const shares = counts.map((c) => c / samples);
  const chi = chiSquareGoodnessOfFit(counts, reference.classShares);
  const classPsi = psi(reference.classShares, shares);
  const predictionsDrifted = flags(chi.pValue, classPsi);
  if (predictionsDrifted) reasons.push(`predicted_class: PSI ${classPsi.toFixed(3)}, chi² ${chi.statistic.toFixed(1)} on ${chi.dof} dof (p=${chi.pValue.toExponential(2)})`);

  const drifted = reasons.length > 0;
  return {
    status: drifted ? 'drifted' : 'stable',
    drifted,
    samples,
    reasons,
    perTestAlpha,
    features,
    predictions: { chiSquare: chi.statistic, dof: chi.dof, pValue: chi.pValue, psi: classPsi, drifted: predictionsDrifted, classShares: shares },
  };
}
