import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Import, re-export or dynamic import of the test-support lib in one source text. */
export function importsTesting(source: string): boolean {
  return /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]@mlpipe\/testing['"]/.test(source);
}

function tsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (name === 'node_modules') return [];
    return statSync(full).isDirectory() ? tsFiles(full) : name.endsWith('.ts') ? [full] : [];
  });
}

/** Code that runs in production: every src/ folder of a lib or service (this lib's own aside), and the scripts. */
function runningCode(): string[] {
  const src = ['libs', 'services'].flatMap((group) =>
    readdirSync(join(root, group))
      .filter((name) => !(group === 'libs' && name === 'testing'))
      .flatMap((name) => tsFiles(join(root, group, name, 'src'))),
  );
  return [...src, ...tsFiles(join(root, 'scripts'))].map((f) => relative(root, f));
}

describe('@mlpipe/testing stays test-only', () => {
  it('recognises an import of it, and nothing else', () => {
    expect(importsTesting("import { createTestBus } from '@mlpipe/testing';")).toBe(true);
    expect(importsTesting('export * from "@mlpipe/testing";')).toBe(true);
    expect(importsTesting("const t = await import('@mlpipe/testing');")).toBe(true);
    expect(importsTesting("import '@mlpipe/testing';")).toBe(true);
    expect(importsTesting("import { eventually } from '@mlpipe/common'; // not @mlpipe/testing")).toBe(false);
  });

  it('is imported by no src/ file and no script', () => {
    const files = runningCode();
    expect(files).toContain('services/trainer/src/service.ts');
    expect(files.filter((f) => importsTesting(readFileSync(join(root, f), 'utf8')))).toEqual([]);
  });

  it('holds the test helpers no other lib index exports any more', () => {
    const elsewhere = readdirSync(join(root, 'libs'))
      .filter((name) => name !== 'testing')
      .flatMap((name) => tsFiles(join(root, 'libs', name, 'src')))
      .filter((f) => /export (async )?function (createTestBus|createTestDatabase|startS3Server|startLiveRegistry|writeMnistVersion)\b/.test(readFileSync(f, 'utf8')));
    expect(elsewhere.map((f) => relative(root, f))).toEqual([]);
  });
});
