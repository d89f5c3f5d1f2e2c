import { describe, expect, it } from 'vitest';
import { artefactKeyProblem, artefactPrefixProblem, storeKeys } from '../src';

const mine = { kind: 'model', modelName: 'mnist', jobId: 'job-1' } as const;

describe('artefact prefixes from events', () => {
  it('accepts the folders storeKeys builds for the owner', () => {
    expect(artefactPrefixProblem(storeKeys.modelArtefacts('mnist', 'job-1'), mine)).toBeUndefined();
    expect(artefactPrefixProblem(storeKeys.modelArtefacts('mnist', 'job-1', 3), mine)).toBeUndefined();
    // A champion of the model, whatever job made it.
    expect(artefactPrefixProblem(storeKeys.modelArtefacts('mnist', 'job-7', 1), { kind: 'model', modelName: 'mnist' })).toBeUndefined();
    expect(artefactPrefixProblem(storeKeys.checkpointDir('job-1', 2, 40), { kind: 'checkpoint', jobId: 'job-1' })).toBeUndefined();
  });

  it("refuses another model's, another job's, or another root's folder", () => {
    expect(artefactPrefixProblem('models/fashion/job-1/', mine)).toMatch(/not under its model's folder models\/mnist\/<job>\//);
    expect(artefactPrefixProblem('models/mnist/job-2/', mine)).toMatch(/not under its job's folder models\/mnist\/job-1\//);
    expect(artefactPrefixProblem('models/mnist/', mine)).toMatch(/not under its model's folder/);
    expect(artefactPrefixProblem('datasets/mnist/batches/x/', mine)).toMatch(/not under its model's folder/);
    expect(artefactPrefixProblem('checkpoints/job-2/attempt-001/', { kind: 'checkpoint', jobId: 'job-1' })).toMatch(/not under its job's folder checkpoints\/job-1\//);
    expect(artefactPrefixProblem('models/mnist/job-1/', { kind: 'checkpoint', jobId: 'job-1' })).toMatch(/not under its job's folder/);
  });

  it('refuses traversal and encoding tricks, whatever folder they start in', () => {
    const tricks: [string, RegExp][] = [
      ['models/mnist/job-1/../../other/job-9/', /segment "\.\."/],
      ['models/mnist/job-1/./', /segment "\."/],
      ['models/mnist/job-1//', /segment ""/],
      ['/models/mnist/job-1/', /starts with "\/"/],
      ['models\\mnist\\job-1\\', /backslash/],
      ['models/mnist/job-1/%2e%2e/%2e%2e/x/', /percent-encoding/],
      ['models/mnist/job-1%2F..%2F..%2Fx/', /percent-encoding/],
      ['models/mnist/job-1/\u0000/', /control character/],
      ['models/mnist/job-1', /does not end with "\/"/],
      ['models/mnist/.hidden/', /segment "\.hidden"/],
      ['', /empty/],
      [`models/mnist/job-1/${'a/'.repeat(600)}`, /longer than 1024/],
    ];
    for (const [prefix, why] of tricks) expect(artefactPrefixProblem(prefix, mine), prefix).toMatch(why);
    expect(artefactPrefixProblem(undefined, mine)).toMatch(/empty/);
  });

  it('accepts only artefact files directly in the folder as keys', () => {
    const prefix = storeKeys.modelArtefacts('mnist', 'job-1');
    expect(artefactKeyProblem(storeKeys.artefact(prefix, 'weights'), prefix)).toBeUndefined();
    expect(artefactKeyProblem('models/mnist/job-2/weights.bin', prefix)).toMatch(/not in its folder/);
    expect(artefactKeyProblem(`${prefix}../job-2/weights.bin`, prefix)).toMatch(/names no artefact file/);
    expect(artefactKeyProblem(`${prefix}secrets.txt`, prefix)).toMatch(/names no artefact file/);
  });
});
