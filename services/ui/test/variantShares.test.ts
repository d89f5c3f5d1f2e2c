import { describe, expect, it } from 'vitest';
import { sharesOf, trafficBehindEdge, variantSharesOf } from '../src/core/variantShares';

describe("a model's variant shares from the replicas' counters", () => {
  it('splits the answered requests by variant and measures shadow agreement', () => {
    expect(sharesOf({ requests: { champion: 90, challenger: 10 }, shadow: { agree: 45, disagree: 5 } })).toEqual({
      requests: { champion: 90, challenger: 10 },
      shares: { champion: 0.9, challenger: 0.1 },
      shadow: { agree: 45, disagree: 5, agreement: 0.9 },
    });
  });

  it('says "nothing counted" and "no agreement" for a model no replica has served', () => {
    expect(sharesOf(undefined)).toEqual({ requests: {}, shares: {}, shadow: { agree: 0, disagree: 0, agreement: null } });
  });

  it("reads one replica's /metrics for that model only", () => {
    const text = 'mlpipe_variant_requests_total{model="mnist",variant="champion"} 3\nmlpipe_variant_requests_total{model="other",variant="champion"} 9\nmlpipe_shadow_predictions_total{model="mnist",agree="false"} 3\n';
    expect(variantSharesOf(text, 'mnist')).toEqual({ requests: { champion: 3 }, shares: { champion: 1 }, shadow: { agree: 0, disagree: 3, agreement: 0 } });
  });

  it("behind the edge: the summed shares, with the replicas counted and those missing", () => {
    const totals = { models: { mnist: { requests: { champion: 3, challenger: 1 }, shadow: { agree: 3, disagree: 0 } } }, replicas: ['http://a'], missing: [{ replica: 'http://b', reason: 'unreachable' }] };
    expect(trafficBehindEdge(totals, 'mnist')).toEqual({
      available: true,
      replicas: ['http://a'],
      missing: [{ replica: 'http://b', reason: 'unreachable' }],
      requests: { champion: 3, challenger: 1 },
      shares: { champion: 0.75, challenger: 0.25 },
      shadow: { agree: 3, disagree: 0, agreement: 1 },
    });
    expect(trafficBehindEdge(totals, 'fashion').available).toBe(true);
  });

  it('behind the edge with no replica answering: not available, saying who was asked and why', () => {
    expect(trafficBehindEdge({ models: {}, replicas: [], missing: [{ replica: 'http://a', reason: 'unreachable' }, { replica: 'http://b', reason: 'no answer within 2000 ms' }] }, 'mnist')).toEqual({
      available: false,
      reason: 'no model replica behind the gateway answered (http://a: unreachable; http://b: no answer within 2000 ms)',
    });
    expect(trafficBehindEdge({ models: {}, replicas: [], missing: [] }, 'mnist')).toEqual({ available: false, reason: 'the gateway has no model replicas' });
  });
});
