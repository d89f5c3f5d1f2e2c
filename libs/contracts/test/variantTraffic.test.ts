import { describe, expect, it } from 'vitest';
import { prometheusSamplesOf, variantCountsOf, VariantTotalsSchema } from '../src';

const METRICS = `# HELP mlpipe_variant_requests_total Requests by the variant that answered
# TYPE mlpipe_variant_requests_total counter
mlpipe_variant_requests_total{model="mnist",variant="champion",service="gateway"} 90
mlpipe_variant_requests_total{model="mnist",variant="challenger",service="gateway"} 10
mlpipe_variant_requests_total{model="other",variant="champion",service="gateway"} 5
mlpipe_variant_requests_total_created{model="mnist",variant="champion"} 1700000000
mlpipe_shadow_predictions_total{model="mnist",agree="true",service="gateway"} 45
mlpipe_shadow_predictions_total{model="mnist",agree="false",service="gateway"} 5
`;

describe("a replica's variant counters, read from its /metrics text", () => {
  it('reads every model with its requests per variant and its shadow agreement', () => {
    expect(variantCountsOf(METRICS)).toEqual({
      mnist: { requests: { champion: 90, challenger: 10 }, shadow: { agree: 45, disagree: 5 } },
      other: { requests: { champion: 5 }, shadow: { agree: 0, disagree: 0 } },
    });
  });

  it('sums label sets (a scrape with a replica label) and skips values no counter has', () => {
    const text = [
      'mlpipe_variant_requests_total{model="m",variant="champion",replica="a"} 3',
      'mlpipe_variant_requests_total{model="m",variant="champion",replica="b"} 1',
      'mlpipe_variant_requests_total{model="m",variant="challenger"} NaN',
      'mlpipe_variant_requests_total{model="m",variant="challenger"} -2',
      'mlpipe_variant_requests_total{variant="champion"} 7',
    ].join('\n');
    expect(variantCountsOf(text)).toEqual({ m: { requests: { champion: 4 }, shadow: { agree: 0, disagree: 0 } } });
    expect(variantCountsOf('')).toEqual({});
  });

  it('reads escaped label values and ignores other metrics that share a prefix', () => {
    expect(prometheusSamplesOf('x_total{a="q\\"uote"} 2\nx_total_created{a="b"} 9\n', 'x_total')).toEqual([{ labels: { a: 'q"uote' }, value: 2 }]);
  });

  it("holds the edge's answer to its shape: no unknown keys, no negative counts", () => {
    const ok = { models: { m: { requests: { champion: 1 }, shadow: { agree: 0, disagree: 0 } } }, replicas: ['http://a'], missing: [] };
    expect(VariantTotalsSchema.parse(ok)).toEqual(ok);
    expect(VariantTotalsSchema.safeParse({ ...ok, extra: 1 }).success).toBe(false);
    expect(VariantTotalsSchema.safeParse({ ...ok, models: { m: { requests: { champion: -1 }, shadow: { agree: 0, disagree: 0 } } } }).success).toBe(false);
  });
});
