import { describe, expect, it } from 'vitest';
import { decideGate } from '../src/core/gate';

const policy = { margin: 0.002, classFloor: 0.9 };
const fine = Array(10).fill(0.97);

describe('promotion gate', () => {
  it('makes the first passing version champion', () => {
    expect(decideGate({ testAccuracy: 0.97, perClassAccuracy: fine }, null, policy)).toEqual({
      outcome: 'champion',
      reason: 'first version to pass the gate: test accuracy 97.00%, every class ≥ 90.00%',
    });
  });

  it('promotes a version that beats the champion by the margin', () => {
    const d = decideGate({ testAccuracy: 0.975, perClassAccuracy: fine }, { version: 3, testAccuracy: 0.973 }, policy);
    expect(d.outcome).toBe('champion');
    expect(d.reason).toBe('test accuracy 97.50% beats champion v3 (97.30%) by 0.20% ≥ margin 0.20%');
  });

  it('says when the champion was scored on the candidate\'s own test data', () => {
    const d = decideGate({ testAccuracy: 0.96, perClassAccuracy: fine }, { version: 2, testAccuracy: 0.91, sameData: true }, policy);
    expect(d).toEqual({ outcome: 'champion', reason: 'test accuracy 96.00% beats champion v2 (91.00% on the same test data) by 5.00% ≥ margin 0.20%' });
  });

  it('keeps a better-but-not-enough version as challenger', () => {
    const d = decideGate({ testAccuracy: 0.9745, perClassAccuracy: fine }, { version: 3, testAccuracy: 0.9731 }, policy);
    expect(d).toEqual({ outcome: 'challenger', reason: 'test accuracy 97.45% does not beat champion v3 (97.31%) by the margin 0.20%' });
    expect(decideGate({ testAccuracy: 0.96, perClassAccuracy: fine }, { version: 1, testAccuracy: 0.97 }, policy).outcome).toBe('challenger');
  });

  it('refuses champion to a version with a class under the floor, even the first one', () => {
    const weak = [...fine];
    weak[7] = 0.85;
    expect(decideGate({ testAccuracy: 0.99, perClassAccuracy: weak }, null, policy)).toEqual({
      outcome: 'challenger',
      reason: 'class 7 test accuracy 85.00% is below the floor 90.00%',
    });
  });
});
