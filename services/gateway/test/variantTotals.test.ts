import { describe, expect, it } from 'vitest';
import { sumVariantTotals } from '../src/core/variantTotals';

describe("the edge's sum of its replicas' variant counters", () => {
  it('adds each model over the replicas that answered and names those that did not', () => {
    const totals = sumVariantTotals([
      { replica: 'http://a', counts: { mnist: { requests: { champion: 30, challenger: 10 }, shadow: { agree: 25, disagree: 5 } } } },
      { replica: 'http://b', counts: { mnist: { requests: { champion: 20, named: 2 }, shadow: { agree: 18, disagree: 2 } }, other: { requests: { champion: 1 }, shadow: { agree: 0, disagree: 0 } } } },
      { replica: 'http://c', reason: 'unreachable' },
    ]);
    expect(totals).toEqual({
      models: {
        mnist: { requests: { champion: 50, challenger: 10, named: 2 }, shadow: { agree: 43, disagree: 7 } },
        other: { requests: { champion: 1 }, shadow: { agree: 0, disagree: 0 } },
      },
      replicas: ['http://a', 'http://b'],
      missing: [{ replica: 'http://c', reason: 'unreachable' }],
    });
  });

  it('leaves the answers it summed untouched (a replica answer may be summed again on the next view)', () => {
    const a = { replica: 'http://a', counts: { m: { requests: { champion: 1 }, shadow: { agree: 1, disagree: 0 } } } };
    sumVariantTotals([a, { replica: 'http://b', counts: { m: { requests: { champion: 2 }, shadow: { agree: 0, disagree: 2 } } } }]);
    expect(a.counts.m).toEqual({ requests: { champion: 1 }, shadow: { agree: 1, disagree: 0 } });
  });

  it('with no replica answering, has no models and every replica missing', () => {
    expect(sumVariantTotals([{ replica: 'http://a', reason: 'no answer within 2000 ms' }])).toEqual({ models: {}, replicas: [], missing: [{ replica: 'http://a', reason: 'no answer within 2000 ms' }] });
  });
});
