import { describe, expect, it } from 'vitest';
import { differingKeys, hasTag, matches, parseFilter, sortRows, valueOf, type RunRow } from '../web/core/runTable';

const run = (runId: string, params: Record<string, unknown>, metrics: Record<string, number>, tags: Record<string, string> = {}): RunRow => ({ runId, status: 'finished', params, tags, metrics, startedAt: null });
const rows = [
  run('a', { arch: 'cnn-small', learningRate: 0.003 }, { val_accuracy: 0.91, loss: 0.3 }, { pruned: 'true' }),
  run('b', { arch: 'cnn-wide', learningRate: 0.01 }, { val_accuracy: 0.95, loss: 0.2 }, { trial: '2' }),
  run('c', { arch: 'cnn-small', learningRate: 0.001 }, { loss: 0.5 }),
];
const filtered = (text: string) => {
  const f = parseFilter(text);
  if ('error' in f) throw new Error(f.error);
  return rows.filter((r) => matches(r, f.clauses)).map((r) => r.runId);
};

describe('the experiments table: values, filters, tag search, sorting, differences', () => {
  it('finds a value among metrics, params and tags, or in the scope named', () => {
    expect(valueOf(rows[0]!, 'val_accuracy')).toBe(0.91);
    expect(valueOf(rows[0]!, 'arch')).toBe('cnn-small');
    expect(valueOf(rows[0]!, 'pruned')).toBe('true');
    expect(valueOf(rows[0]!, 'params.learningRate')).toBe(0.003);
    expect(valueOf(rows[0]!, 'metrics.arch')).toBeUndefined();
  });

  it('filters by any metric, param or tag; clauses are ANDed; a missing value fails all but !=', () => {
    expect(filtered('val_accuracy>0.92')).toEqual(['b']);
    expect(filtered('val_accuracy >= 0.91 arch=cnn-small')).toEqual(['a']);
    expect(filtered('learningRate<0.005')).toEqual(['a', 'c']);
    expect(filtered('tags.pruned!=true')).toEqual(['b', 'c']);
    expect(filtered('arch~WIDE')).toEqual(['b']);
    expect(filtered('')).toEqual(['a', 'b', 'c']);
    expect(parseFilter('accuracy')).toEqual({ error: expect.stringMatching(/^"accuracy" is not a filter/) });
    expect(parseFilter('>3')).toHaveProperty('error');
  });

  it('searches tags as key=value text', () => {
    expect(rows.filter((r) => hasTag(r, 'pruned')).map((r) => r.runId)).toEqual(['a']);
    expect(rows.filter((r) => hasTag(r, 'trial=2')).map((r) => r.runId)).toEqual(['b']);
    expect(rows.filter((r) => hasTag(r, ' ')).length).toBe(3);
  });

  it('sorts numbers numerically and text alphabetically, missing values last', () => {
    expect(sortRows(rows, 'val_accuracy', 'desc').map((r) => r.runId)).toEqual(['b', 'a', 'c']);
    expect(sortRows(rows, 'val_accuracy', 'asc').map((r) => r.runId)).toEqual(['a', 'b', 'c']);
    expect(sortRows(rows, 'arch', 'desc').map((r) => r.runId)).toEqual(['b', 'a', 'c']);
  });

  it('names the parameters that differ between runs', () => {
    expect([...differingKeys([{ arch: 'x', lr: 1, e: 2 }, { arch: 'x', lr: 2, e: 2 }])]).toEqual(['lr']);
    expect([...differingKeys([{ a: 1 }, { a: 1, b: 0 }])]).toEqual(['b']);
    expect(differingKeys([{ a: { r: 1 } }, { a: { r: 1 } }]).size).toBe(0);
  });
});
