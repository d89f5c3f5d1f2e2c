import { variantCountsOf, type VariantCounts, type VariantTotals } from '@mlpipe/contracts';

/** How a model's traffic splits between its variants, and how often the shadow agreed, from the gateway's counters. */
export interface VariantShares {
  /** Requests answered per variant (champion, challenger, pinned, named) since the replicas started. */
  requests: Record<string, number>;
  /** Each variant's share of the answered requests (0..1). */
  shares: Record<string, number>;
  /** Shadow predictions of the challenger: how many agreed with the answer returned, and the share. */
  shadow: { agree: number; disagree: number; agreement: number | null };
}

/** What the traffic view says: the shares, and whose counters they are (the replicas summed, those that did not answer). */
export type TrafficView =
  | { available: false; reason: string }
  | ({ available: true; replicas: string[]; missing: { replica: string; reason: string }[] } & VariantShares);

/** Shares and agreement of one model's counts (none counted yet: empty, agreement null). */
export function sharesOf(counts: VariantCounts | undefined): VariantShares {
  const requests = { ...(counts?.requests ?? {}) };
  const total = Object.values(requests).reduce((a, b) => a + b, 0);
  const shares = Object.fromEntries(Object.entries(requests).map(([v, n]) => [v, total ? n / total : 0]));
  const { agree, disagree } = counts?.shadow ?? { agree: 0, disagree: 0 };
  return { requests, shares, shadow: { agree, disagree, agreement: agree + disagree ? agree / (agree + disagree) : null } };
}

/** A model's variant shares from one model replica's /metrics text (the UI pointed at a replica, not an edge). */
export function variantSharesOf(text: string, model: string): VariantShares {
  return sharesOf(variantCountsOf(text)[model]);
}

/**
 * A model's traffic view from the edge's sums over its replicas. Replicas that did not answer are
 * passed on by name; with none answering there are no shares to show, and the reason says who was asked.
 */
export function trafficBehindEdge(totals: VariantTotals, model: string): TrafficView {
  if (!totals.replicas.length) {
    const asked = totals.missing.map((m) => `${m.replica}: ${m.reason}`).join('; ');
    return { available: false, reason: totals.missing.length ? `no model replica behind the gateway answered (${asked})` : 'the gateway has no model replicas' };
  }
  return { available: true, replicas: totals.replicas, missing: totals.missing, ...sharesOf(totals.models[model]) };
}
