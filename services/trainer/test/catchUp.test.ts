import { describe, expect, it } from 'vitest';
import { applyDecision } from '../src/core/catchUp';

const member = { appliedThrough: 9, hasModel: true, role: 'member' as const };
const step = (applyStep: number | undefined, stateToThisReplica = false) => ({ kind: 'step' as const, applyStep, stateToThisReplica });

describe('applyDecision: what a replica does with the step a frame applies', () => {
  it('applies the next step and skips steps it has, frames without one, and a replica without a model', () => {
    expect(applyDecision(step(10), member)).toBe('apply');
    expect(applyDecision(step(9), member)).toBe('skip');
    expect(applyDecision(step(3), member)).toBe('skip');
    expect(applyDecision(step(undefined), member)).toBe('skip');
    expect(applyDecision(step(12), { ...member, hasModel: false })).toBe('skip');
  });

  it('re-joins a member that missed steps', () => {
    expect(applyDecision(step(12), member)).toBe('rejoin');
    expect(applyDecision({ kind: 'done', applyStep: 12, stateToThisReplica: false }, member)).toBe('rejoin');
  });

  it('does not re-join on the frame that re-admits it with the weights, nor while its join waits for the boundary', () => {
    expect(applyDecision(step(12, true), member)).toBe('skip');
    expect(applyDecision(step(12, true), { ...member, role: 'waiting' })).toBe('skip');
    expect(applyDecision(step(12), { ...member, role: 'waiting' })).toBe('skip');
  });

  it('re-joins a waiting replica behind the group on the last frame: no admission follows it', () => {
    expect(applyDecision({ kind: 'done', applyStep: 12, stateToThisReplica: false }, { ...member, role: 'waiting' })).toBe('rejoin');
  });
});
