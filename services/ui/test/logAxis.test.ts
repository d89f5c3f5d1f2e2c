import { describe, expect, it } from 'vitest';
import { decadeLabel, decadeTicks } from '../web/core/logAxis';

describe("the sweeps scatter's log axis", () => {
  it('ticks once a decade within the scale, learning rates from 1e-7 to 0.003 included', () => {
    expect(decadeTicks(1e-8, 0.01)).toEqual([1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2]);
    expect(decadeTicks(2e-7, 0.003)).toEqual([1e-6, 1e-5, 1e-4, 1e-3]);
    // Ends a floating-point hair off a decade still get their tick.
    expect(decadeTicks(0.0009999999999, 1.0000000001)).toEqual([1e-3, 1e-2, 1e-1, 1]);
  });

  it('gives nothing for a range a log scale cannot have', () => {
    expect(decadeTicks(0, 1)).toEqual([]);
    expect(decadeTicks(1, 0.1)).toEqual([]);
    expect(decadeTicks(Number.NaN, 1)).toEqual([]);
  });

  it('labels small rates in exponent form instead of rounding them to 0', () => {
    expect([1e-7, 1e-4, 1e-3, 0.01, 1, 10].map(decadeLabel)).toEqual(['1e-7', '1e-4', '0.001', '0.01', '1', '10']);
  });
});
