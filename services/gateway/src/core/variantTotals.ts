import { noVariantCounts, type VariantCounts, type VariantTotals } from '@mlpipe/contracts';

/** What one replica said when the edge asked for its counters: every model's counts, or why it gave none. */
export type ReplicaCounts = { replica: string; counts: Record<string, VariantCounts> } | { replica: string; reason: string };

/** b's counts added into a (a is changed and returned). */
function addVariantCounts(a: VariantCounts, b: VariantCounts): VariantCounts {
  for (const [variant, n] of Object.entries(b.requests)) a.requests[variant] = (a.requests[variant] ?? 0) + n;
  a.shadow.agree += b.shadow.agree;
  a.shadow.disagree += b.shadow.disagree;
  return a;
}

/**
 * The edge's view of its replicas' variant counters: each model's counts summed over the replicas
 * that answered, which replicas those were, and which did not answer and why. Each replica counts
 * only the requests it answered, so the sum over all of them is the model's traffic; a replica
 * missing from it is named rather than silently shrinking the totals.
 */
export function sumVariantTotals(answers: readonly ReplicaCounts[]): VariantTotals {
  const totals: VariantTotals = { models: {}, replicas: [], missing: [] };
  for (const a of answers) {
    if ('reason' in a) {
      totals.missing.push({ replica: a.replica, reason: a.reason });
      continue;
    }
    totals.replicas.push(a.replica);
    for (const [model, counts] of Object.entries(a.counts)) addVariantCounts((totals.models[model] ??= noVariantCounts()), counts);
  }
  return totals;
}
