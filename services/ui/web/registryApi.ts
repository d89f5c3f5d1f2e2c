import { api } from './session';
import type { RunRow } from './core/runTable';

// The registry's views as the pages read them (through the UI's allow-listed /api/registry routes).

export type Run = Omit<RunRow, 'metrics'> & {
  experiment: string;
  datasetVersion: string;
  codeVersion: string;
  backend: string | null;
  replica: string | null;
  error: string | null;
  parentRunId: string | null;
  endedAt: string | null;
};
export type MetricPoint = { key: string; step: number; value: number; at: string | null };
export type Version = {
  model: string;
  version: number;
  runId: string;
  testAccuracy: number;
  transformedTestAccuracy: number | null;
  onnx: { status: 'verified' | 'absent'; reason?: string } | null;
  perClassAccuracy: number[];
  confusionMatrix: number[][];
  trainSamples: number;
  datasetVersion: string;
  aliases: string[];
  createdAt: string | null;
};
export type GateDecision = { version: number; runId: string; outcome: string; reason: string; at: string; championAtTheTime: { version: number; testAccuracy: number | null } | null };
export type Registration = { runId: string; version: Version | null; gate: GateDecision | null };
export type Model = { name: string; versions: number; aliases: Record<string, number>; versionList: Version[] };
export type AuditEntry = { id: number; at: string; actor: string; action: string; model: string; version: number; decision: string; reason: string; details: Record<string, unknown> };
export type DatasetVersionView = {
  id: string;
  dataset: string;
  trainSamples: number;
  testSamples: number;
  trainBatchCount: number;
  testBatchCount: number;
  batches: { split: string; contentHash: string; samples: number | null; sourcePrefix: string | null; createdAt: string | null }[];
  truncated: boolean;
};

const seg = encodeURIComponent;
export const registry = {
  runs: (experiment: string) => api<{ runs: Run[] }>(`/api/registry/experiments/${seg(experiment)}/runs`).then((r) => r.runs),
  /** The latest value of every metric of every run, by run id (one request for the whole table). */
  latestMetrics: (experiment: string) => api<{ runs: Record<string, Record<string, number>> }>(`/api/registry/experiments/${seg(experiment)}/metrics/latest`).then((r) => r.runs),
  run: (id: string) => api<Run & { metrics: Record<string, number> }>(`/api/registry/runs/${seg(id)}`),
  metrics: (id: string) => api<{ metrics: MetricPoint[] }>(`/api/registry/runs/${seg(id)}/metrics`).then((r) => r.metrics),
  registration: (id: string) => api<Registration>(`/api/registry/runs/${seg(id)}/registration`),
  model: (name: string) => api<Model>(`/api/registry/models/${seg(name)}`),
  decisions: (name: string) => api<{ decisions: GateDecision[] }>(`/api/registry/models/${seg(name)}/decisions`).then((r) => r.decisions),
  audit: (name: string, limit = 50) => api<{ entries: AuditEntry[] }>(`/api/registry/audit?model=${seg(name)}&limit=${limit}`).then((r) => r.entries),
  datasetVersion: (dataset: string, id: string) => api<DatasetVersionView>(`/api/registry/datasets/${seg(dataset)}/versions/${seg(id)}`),
};

/** A version's downloadable artefacts (the names @mlpipe/contracts gives them) as the run page lists them. */
export const ARTEFACT_LABELS = { modelCard: 'model card', confusion: 'confusion matrix', modelJson: 'model (tfjs)', weights: 'weights', onnx: 'ONNX' } as const;

/** The URL of a version's stored artefact, downloaded through the UI with the caller's session (the UI maps the name to its file). */
export const artefactUrl = (model: string, version: number, artefact: keyof typeof ARTEFACT_LABELS) => `/api/artefacts/${seg(model)}/${version}/${artefact}`;

/** Metric points grouped by key, each sorted by step. */
export function curvesOf(points: readonly MetricPoint[]): Map<string, { x: number; y: number }[]> {
  const by = new Map<string, { x: number; y: number }[]>();
  for (const p of points) by.set(p.key, [...(by.get(p.key) ?? []), { x: p.step, y: p.value }]);
  for (const list of by.values()) list.sort((a, b) => a.x - b.x);
  return by;
}

/** The curves a run page and a comparison plot, one chart each: keys with more than one step, per-class accuracy left to its table. */
export const CHART_GROUPS: readonly { title: string; yLabel: string; keys: (key: string) => boolean }[] = [
  { title: 'Accuracy per epoch', yLabel: 'accuracy', keys: (k) => /(^|_)accuracy$/.test(k) && !k.includes('class') },
  { title: 'Loss per epoch', yLabel: 'loss', keys: (k) => /(^|_)loss$/.test(k) },
  { title: 'Throughput per epoch', yLabel: 'samples/s', keys: (k) => k === 'samples_per_sec' },
  { title: 'Epoch time', yLabel: 'seconds', keys: (k) => k === 'epoch_seconds' },
];
