import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkDeclared, checkLayers, checkMain, checkPureImports, importsOf, packageOf, type Layer } from './rules';

const root = join(import.meta.dirname, '../..');

function filesUnder(dir: string): string[] {
  const abs = join(root, dir);
  if (!statSync(abs, { throwIfNoEntry: false })?.isDirectory()) return [];
  return readdirSync(abs, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => `${dir}/${f}`);
}

interface Workspace {
  name: string;
  dir: string;
  layer: Layer;
  declared: Set<string>;
}

const workspaces: Workspace[] = ['libs', 'services'].flatMap((group) =>
  readdirSync(join(root, group)).flatMap((name) => {
    const dir = `${group}/${name}`;
    if (!statSync(join(root, dir, 'package.json'), { throwIfNoEntry: false })) return []; // not (yet) a workspace
    const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as Record<string, Record<string, string> | string>;
    const declared = new Set(['dependencies', 'optionalDependencies', 'peerDependencies'].flatMap((k) => Object.keys((pkg[k] as Record<string, string> | undefined) ?? {})));
    const layer: Layer = dir === 'libs/contracts' ? 'contracts' : group === 'libs' ? 'lib' : 'service';
    return [{ name: pkg.name as string, dir, layer, declared }];
  }),
);
const layers = new Map(workspaces.map((w) => [w.name, w.layer]));
const read = (file: string) => readFileSync(join(root, file), 'utf8');
const srcOf = (w: Workspace) => filesUnder(`${w.dir}/src`);
const pureFiles = [...workspaces.flatMap((w) => srcOf(w).filter((f) => f.includes('/core/'))), ...filesUnder('libs/contracts/src'), ...filesUnder('libs/common/src'), ...filesUnder('libs/drift/src')];

describe('the rules catch what they are for (fixtures)', () => {
  it('pure code: adapters, node I/O, fastify, nats, pg and the client libs are refused; math is not', () => {
    const bad = [
      "import { JobRepository } from '../adapters/jobRepository';",
      "import { readFile } from 'node:fs/promises';",
      "import { createServer } from 'net';",
      "import type { FastifyInstance } from 'fastify';",
      "import { connect } from '@nats-io/transport-node';",
      "import pg from 'pg';",
      "const { createPool } = await import('@mlpipe/db');",
      "export { runService } from '@mlpipe/runtime';",
    ];
    expect(bad.map((src) => checkPureImports('x/core/a.ts', src).length)).toEqual(bad.map(() => 1));
    expect(checkPureImports('x/core/a.ts', "import { z } from 'zod';\nimport { ValidationError } from '@mlpipe/common';\nimport { performance } from 'node:perf_hooks';\nimport { decide } from './policy';")).toEqual([]);
  });

  it('main.ts: only imports of the runtime and config, and one runService call', () => {
    const good = "import { XConfigSchema } from '@mlpipe/config';\nimport { runService } from '@mlpipe/runtime';\nvoid runService({ name: 'x', configSchema: XConfigSchema, needs: [], start: async (ctx) => (await import('./service')).startX(ctx) });";
    expect(checkMain('m.ts', good)).toEqual([]);
    expect(checkMain('m.ts', good.replace("'@mlpipe/config'", "'@mlpipe/db'"))).toHaveLength(1);
    expect(checkMain('m.ts', `${good}\nconsole.log('also this');`)).toHaveLength(1);
    expect(checkMain('m.ts', "async function main() {}\nmain().catch(() => process.exit(1));")).toHaveLength(1);
  });

  it('declared dependencies: an undeclared package is named; builtins, relatives and the workspace itself pass', () => {
    const src = "import { z } from 'zod';\nimport { join } from 'node:path';\nimport { x } from './x';\nimport type { Bus } from '@mlpipe/bus';\nimport { y } from '@mlpipe/self';\nimport { Counter } from 'prom-client/lib/counter';";
    expect(checkDeclared('f.ts', src, new Set(['zod', '@mlpipe/bus', 'prom-client']), '@mlpipe/self')).toEqual([]);
    expect(checkDeclared('f.ts', src, new Set(['zod']), '@mlpipe/self').map((v) => v.detail)).toEqual([
      'imports @mlpipe/bus, which its package.json does not declare',
      'imports prom-client, which its package.json does not declare',
    ]);
  });

  it('layers: contracts import no workspace, libs no service, services no other service, no relative reach-outs', () => {
    const l = new Map<string, Layer>([['@mlpipe/contracts', 'contracts'], ['@mlpipe/bus', 'lib'], ['@mlpipe/registry', 'service'], ['@mlpipe/trainer', 'service']]);
    const trainer = { name: '@mlpipe/trainer', layer: 'service' as const, dir: 'services/trainer' };
    expect(checkLayers('services/trainer/src/a.ts', "import { x } from '@mlpipe/bus';\nimport { y } from '../../registry/src/service';", trainer, l).map((v) => v.detail)).toEqual(['reaches outside its workspace: ../../registry/src/service']);
    expect(checkLayers('services/trainer/src/a.ts', "import { r } from '@mlpipe/registry';", trainer, l)).toHaveLength(1);
    expect(checkLayers('libs/bus/src/a.ts', "import { r } from '@mlpipe/registry';", { name: '@mlpipe/bus', layer: 'lib', dir: 'libs/bus' }, l)).toHaveLength(1);
    expect(checkLayers('libs/contracts/src/a.ts', "import { b } from '@mlpipe/bus';", { name: '@mlpipe/contracts', layer: 'contracts', dir: 'libs/contracts' }, l)).toHaveLength(1);
    expect(checkLayers('services/trainer/src/core/a.ts', "import { b } from '../adapters/x';", trainer, l)).toEqual([]);
  });

  it('reads every kind of import and names packages', () => {
    expect(importsOf("import a from 'a';\nimport type { B } from 'b';\nexport * from './c';\nconst d = await import('d');\nconst { e } = createRequire(import.meta.url)('e');")).toEqual(['a', 'b', './c', 'd', 'e']);
    expect(['@s/p/deep', 'p/deep', 'node:fs', 'fs', './x'].map(packageOf)).toEqual(['@s/p', 'p', undefined, undefined, undefined]);
  });
});

describe('the tree keeps them', () => {
  it('finds the workspaces and their core folders (a rule over nothing would pass)', () => {
    expect(workspaces.length).toBeGreaterThanOrEqual(15);
    expect(pureFiles.filter((f) => f.includes('/core/')).length).toBeGreaterThan(10);
  });

  it('core/, libs/contracts, libs/common and libs/drift are pure', () => {
    expect(pureFiles.flatMap((f) => checkPureImports(f, read(f)))).toEqual([]);
  });

  it('every services/*/src/main.ts only calls the runtime', () => {
    const mains = workspaces.filter((w) => w.layer === 'service').map((w) => `${w.dir}/src/main.ts`);
    expect(mains).toHaveLength(6);
    expect(mains.flatMap((f) => checkMain(f, read(f)))).toEqual([]);
  });

  it('every workspace declares the packages its src/ imports', () => {
    expect(workspaces.flatMap((w) => srcOf(w).flatMap((f) => checkDeclared(f, read(f), w.declared, w.name)))).toEqual([]);
  });

  it('layer direction holds: contracts ← libs ← services, no service imports another', () => {
    expect(workspaces.flatMap((w) => srcOf(w).flatMap((f) => checkLayers(f, read(f), w, layers)))).toEqual([]);
  });

  it('no circle among the workspaces’ declared @mlpipe dependencies', () => {
    const deps = new Map(workspaces.map((w) => [w.name, [...w.declared].filter((d) => layers.has(d))]));
    const circles: string[] = [];
    const visit = (name: string, path: string[]): void => {
      if (path.includes(name)) return void circles.push([...path.slice(path.indexOf(name)), name].join(' → '));
      for (const d of deps.get(name) ?? []) visit(d, [...path, name]);
    };
    for (const w of workspaces) visit(w.name, []);
    expect(circles).toEqual([]);
  });
});

