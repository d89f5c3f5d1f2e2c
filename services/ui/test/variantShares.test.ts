import { describe, expect, it } from 'vitest';
import { samplesOf, variantSharesOf } from '../src/core/variantShares';

const METRICS = `# HELP mlpipe_variant_requests_total Requests by the variant that answered
# TYPE mlpipe_variant_requests_total counter
mlpipe_variant_requests_total{model="mnist",variant="champion",service="gateway"} 90
mlpipe_variant_requests_total{model="mnist",variant="challenger",service="gateway"} 10
mlpipe_variant_requests_total{model="other",variant="champion",service="gateway"} 5
mlpipe_variant_requests_total_created{model="mnist",variant="champion"} 1700000000
mlpipe_shadow_predictions_total{model="mnist",agree="true",service="gateway"} 45
mlpipe_shadow_predictions_total{model="mnist",agree="false",service="gateway"} 5
`;

describe("a model's variant shares from the gateway's counters", () => {
  it('splits the answered requests by variant and measures shadow agreement for that model only', () => {
    expect(variantSharesOf(METRICS, 'mnist')).toEqual({
      requests: { champion: 90, challenger: 10 },
      shares: { champion: 0.9, challenger: 0.1 },
      shadow: { agree: 45, disagree: 5, agreement: 0.9 },
    });
  });

  it('sums label sets (replicas) and says "no agreement" when nothing was shadowed', () => {
    const two = `mlpipe_variant_requests_total{model="m",variant="champion",replica="a"} 3\nmlpipe_variant_requests_total{model="m",variant="champion",replica="b"} 1\n`;
    expect(variantSharesOf(two, 'm')).toEqual({ requests: { champion: 4 }, shares: { champion: 1 }, shadow: { agree: 0, disagree: 0, agreement: null } });
    expect(variantSharesOf('', 'm').shares).toEqual({});
  });

  it('reads escaped label values and ignores other metrics that share a prefix', () => {
    expect(samplesOf('x_total{a="q\\"uote"} 2\nx_total_created{a="b"} 9\n', 'x_total')).toEqual([{ labels: { a: 'q"uote' }, value: 2 }]);
  });
});
