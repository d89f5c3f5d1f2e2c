import { z } from 'zod';

/**
 * How a model's traffic splits between its variants, as the model replicas count it: the counters
 * every replica's /metrics shows, and the edge's sum of them over its replicas (GET /metrics/variants).
 * The replica writes the counters (gateway adapters/inferenceMetrics.ts); the edge and the UI read
 * them here, so the metric names and their labels are read in one place.
 */
export const VARIANT_COUNTERS = {
  /** Requests by the variant that answered: labels model, variant (champion, challenger, pinned, named). */
  requests: 'mlpipe_variant_requests_total',
  /** Shadow predictions of the challenger: labels model, agree ("true" / "false"). */
  shadow: 'mlpipe_shadow_predictions_total',
} as const;

const Count = z.number().nonnegative();

/** One model's counters on one replica, or summed over several. */
export const VariantCountsSchema = z
  .object({
    /** Requests answered per variant. */
    requests: z.record(z.string(), Count),
    /** Shadow predictions that agreed, and did not agree, with the answer returned. */
    shadow: z.object({ agree: Count, disagree: Count }).strict(),
  })
  .strict();
export type VariantCounts = z.infer<typeof VariantCountsSchema>;

/** The edge's answer on GET /metrics/variants: every model's counters summed over the replicas that answered. */
export const VariantTotalsSchema = z
  .object({
    models: z.record(z.string(), VariantCountsSchema),
    /** The replicas whose counters are in the sums. */
    replicas: z.array(z.string()),
    /** The replicas that were asked and gave no counters, with why; their requests are not in the sums. */
    missing: z.array(z.object({ replica: z.string(), reason: z.string() }).strict()),
  })
  .strict();
export type VariantTotals = z.infer<typeof VariantTotalsSchema>;

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}\s+([0-9.eE+-]+|NaN|\+Inf|-Inf)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of one metric in Prometheus text format, each with its labels (lines of other metrics are skipped). */
export function prometheusSamplesOf(text: string, metric: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const m = SAMPLE.exec(line.trim());
    if (!m || m[1] !== metric) continue;
    const labels: Record<string, string> = {};
    for (const l of m[2]!.matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}

export const noVariantCounts = (): VariantCounts => ({ requests: {}, shadow: { agree: 0, disagree: 0 } });

/**
 * Every model's variant counters from one /metrics text, summed over its label sets (a scrape that
 * already carries a replica label adds up too). Values that are not finite and non-negative are
 * skipped: a counter never is one, and one bad line must not poison a sum.
 */
export function variantCountsOf(text: string): Record<string, VariantCounts> {
  const models: Record<string, VariantCounts> = {};
  const of = (model: string) => (models[model] ??= noVariantCounts());
  const counted = (value: number) => Number.isFinite(value) && value >= 0;
  for (const s of prometheusSamplesOf(text, VARIANT_COUNTERS.requests)) {
    const { model, variant } = s.labels;
    if (!model || !variant || !counted(s.value)) continue;
    const requests = of(model).requests;
    requests[variant] = (requests[variant] ?? 0) + s.value;
  }
  for (const s of prometheusSamplesOf(text, VARIANT_COUNTERS.shadow)) {
    const { model, agree } = s.labels;
    if (!model || !counted(s.value)) continue;
    of(model).shadow[agree === 'true' ? 'agree' : 'disagree'] += s.value;
  }
  return models;
}
