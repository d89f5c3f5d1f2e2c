import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ARTEFACTS, artefactOfFile, storeKeys } from '../src';
import { KEY_FILE_NAMES, KEY_ROOTS, findKeyLiterals, scanFiles, sourceFiles } from './keyLiterals';

const root = fileURLToPath(new URL('../../../', import.meta.url));
/** Code that runs: every lib and service, the web page, the scripts, benches and deploy tools. Tests may pin the layout. */
const RUNNING_CODE = ['libs', 'services', 'scripts', 'bench', 'deploy'];
const KEYS_FILE = 'libs/contracts/src/keys.ts';

describe('store keys', () => {
  it('pads checkpoint attempts and steps so keys sort by attempt, then step', () => {
    expect(storeKeys.checkpointDir('j1', 1, 2) < storeKeys.checkpointDir('j1', 1, 10)).toBe(true);
    expect(storeKeys.checkpointDir('j1', 2, 5) > storeKeys.checkpointDir('j1', 1, 500)).toBe(true);
  });

  it('names every artefact file once and finds it back by name', () => {
    expect(storeKeys.artefact(storeKeys.modelArtefacts('mnist', 'job-1'), 'weights')).toBe('models/mnist/job-1/weights.bin');
    expect(storeKeys.modelArtefacts('mnist', 'job-1', 2)).toBe('models/mnist/job-1/attempt-2/');
    for (const [name, a] of Object.entries(ARTEFACTS)) expect(artefactOfFile(a.file)).toBe(name);
    expect(artefactOfFile('../secrets')).toBeUndefined();
  });
});

describe('key literals outside keys.ts (the check)', () => {
  it('reads its file names and roots from the layout', () => {
    expect(KEY_FILE_NAMES).toEqual(expect.arrayContaining(['batch.json', 'model.json', 'weights.bin', 'confusion.json', 'model-card.md', 'latest.json', 'manifest.json']));
    expect(KEY_ROOTS).toEqual(['datasets/', 'checkpoints/', 'models/', 'predictions/']);
  });

  it('flags a file name or a key root in strings and templates', () => {
    const sample = [
      "await store.get(`${prefix}model.json`);",
      "const marker = 'batch.json';",
      "const k = `checkpoints/${jobId}/`;",
      "list('predictions/')",
      'const card = prefix + "model-card.md";',
    ].join('\n');
    expect(findKeyLiterals('sample.ts', sample).map((f) => [f.line, f.why])).toEqual([
      [1, 'names the store file model.json'],
      [2, 'names the store file batch.json'],
      [3, 'builds a key under checkpoints/'],
      [4, 'builds a key under predictions/'],
      [5, 'names the store file model-card.md'],
    ]);
  });

  it('does not flag comments, URLs, other names or a root in the middle of a template', () => {
    const sample = [
      '// stores model.json and weights.bin under models/<name>/',
      '/** batch.json is written last */',
      "fetch(`${url}/models/${name}/versions`);",
      "const f = 'model.jsonl'; const g = 'my-model.json.bak'; const h = 'datasets';",
      "const k = storeKeys.artefact(prefix, 'modelJson');",
    ].join('\n');
    expect(findKeyLiterals('sample.ts', sample)).toEqual([]);
  });

  it('finds none in running code outside keys.ts', () => {
    const files = sourceFiles(root, RUNNING_CODE.filter((d) => existsSync(`${root}${d}`))).filter(
      (f) => f !== KEYS_FILE && !/(^|\/)test\//.test(f),
    );
    expect(files).toContain('services/trainer/src/app/finish.ts');
    expect(files.length).toBeGreaterThan(100);
    expect(scanFiles(root, files).map((f) => `${f.file}:${f.line} ${f.why}: "${f.text}"`)).toEqual([]);
  });
});
