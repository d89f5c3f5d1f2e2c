export { FEATURE_NAMES, FEATURE_DESCRIPTIONS, extractFeatures, imageFeatures, type FeatureName, type FeatureColumns } from './features';
export { kolmogorovSurvival, ksTwoSample, psi, quantilePsi, quantileEdges, binShares, chiSquareGoodnessOfFit, PSI_EPSILON, type KsResult, type ChiSquareResult } from './stats';
export { buildReference, parseDriftReference, DriftReferenceSchema, DEFAULT_MAX_REFERENCE_SAMPLES, type DriftReference, type Predictions, type BuildReferenceOptions } from './reference';
export { assessDrift, DEFAULT_DRIFT_OPTIONS, type DriftOptions, type DriftAssessment, type FeatureDrift, type PredictionDrift } from './assess';
