/** How a model's traffic splits between its variants, and how often the shadow agreed, from the gateway's counters. */
export interface VariantShares {
  /** Requests answered per variant (champion, challenger, pinned, named) since the gateway started. */
  requests: Record<string, number>;
  /** Each variant's share of the answered requests (0..1). */
  shares: Record<string, number>;
  /** Shadow predictions of the challenger: how many agreed with the answer returned, and the share. */
  shadow: { agree: number; disagree: number; agreement: number | null };
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}\s+([0-9.eE+-]+|NaN|\+Inf|-Inf)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of one metric in Prometheus text format, each with its labels (lines of other metrics are skipped). */
export function samplesOf(text: string, metric: string): { labels: Record<string, string>; value: number }[] {
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

/**
 * A model's variant shares from the gateway's /metrics text (mlpipe_variant_requests_total and
 * mlpipe_shadow_predictions_total, summed over the gateway's label sets, e.g. replicas).
 */
export function variantSharesOf(text: string, model: string): VariantShares {
  const requests: Record<string, number> = {};
  for (const s of samplesOf(text, 'mlpipe_variant_requests_total')) {
    if (s.labels.model !== model || !s.labels.variant) continue;
    requests[s.labels.variant] = (requests[s.labels.variant] ?? 0) + s.value;
  }
  const total = Object.values(requests).reduce((a, b) => a + b, 0);
  const shares = Object.fromEntries(Object.entries(requests).map(([v, n]) => [v, total ? n / total : 0]));
  let agree = 0;
  let disagree = 0;
  for (const s of samplesOf(text, 'mlpipe_shadow_predictions_total')) {
    if (s.labels.model !== model) continue;
    if (s.labels.agree === 'true') agree += s.value;
    else disagree += s.value;
  }
  return { requests, shares, shadow: { agree, disagree, agreement: agree + disagree ? agree / (agree + disagree) : null } };
}
