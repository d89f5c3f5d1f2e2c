import { builtinModules } from 'node:module';
import ts from 'typescript';

/**
 * The architecture rules of the tree, as pure functions of a file's path and text, so each rule is
 * tested on a small fixture that breaks it as well as on the real tree.
 */
export interface Violation {
  file: string;
  rule: string;
  detail: string;
}

/** Every module specifier a file imports: static, type-only, re-exports, import(), require() and createRequire(...)(). */
export function importsOf(source: string): string[] {
  const found = ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
  const required = [...source.matchAll(/createRequire\([^)]*\)\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!);
  return [...found, ...required];
}

/** The package an import names (`@scope/name` or `name`), or undefined for a relative or node: import. */
export function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('node:') || specifier.startsWith('/')) return undefined;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  return builtinModules.includes(name) ? undefined : name;
}

/** Node modules that do I/O (a bare `fs` or a `node:fs/promises` alike). */
const NODE_IO = new Set(['fs', 'net', 'http', 'https', 'http2', 'child_process', 'dgram', 'dns', 'tls', 'cluster', 'worker_threads', 'readline', 'inspector']);
/** Packages and libs that bring I/O (or a server) with them. */
const IO_PACKAGES = [/^fastify/, /^@fastify\//, /^@nats-io\//, /^nats$/, /^pg$/, /^minio$/, /^@mlpipe\/(runtime|bus|db|storage)$/, /^@opentelemetry\/sdk/];

/** core/ is pure: no adapter, no node I/O module, no fastify, nats, pg or client lib. */
export function checkPureImports(file: string, source: string): Violation[] {
  const out: Violation[] = [];
  for (const spec of importsOf(source)) {
    const node = spec.replace(/^node:/, '').split('/')[0]!;
    const reason = /(^|\/)adapters(\/|$)/.test(spec)
      ? 'imports an adapter'
      : NODE_IO.has(node) && (spec.startsWith('node:') || builtinModules.includes(spec))
        ? 'imports a node I/O module'
        : IO_PACKAGES.some((p) => p.test(packageOf(spec) ?? ''))
          ? 'imports an I/O package'
          : undefined;
    if (reason) out.push({ file, rule: 'pure core', detail: `${reason}: ${spec}` });
  }
  return out;
}

/** main.ts only calls the runtime: imports from @mlpipe/runtime and @mlpipe/config, then one runService(...) statement. */
export function checkMain(file: string, source: string): Violation[] {
  const out: Violation[] = [];
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const calls: ts.Statement[] = [];
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st)) {
      const from = (st.moduleSpecifier as ts.StringLiteral).text;
      if (from !== '@mlpipe/runtime' && from !== '@mlpipe/config') out.push({ file, rule: 'main calls the runtime', detail: `imports ${from}` });
      continue;
    }
    calls.push(st);
  }
  const only = calls.length === 1 ? calls[0] : undefined;
  const expr = only && ts.isExpressionStatement(only) ? only.expression : undefined;
  const call = expr && ts.isVoidExpression(expr) ? expr.expression : expr;
  const isRunService = !!call && ts.isCallExpression(call) && call.expression.getText(sf) === 'runService';
  if (!isRunService) out.push({ file, rule: 'main calls the runtime', detail: `has ${calls.length} statement(s) besides imports; want one runService({...})` });
  return out;
}

/** A workspace imports only packages it declares (node builtins aside). */
export function checkDeclared(file: string, source: string, declared: ReadonlySet<string>, self: string): Violation[] {
  return importsOf(source)
    .map(packageOf)
    .filter((p): p is string => !!p && p !== self && !declared.has(p))
    .map((p) => ({ file, rule: 'declared dependencies', detail: `imports ${p}, which its package.json does not declare` }));
}

export type Layer = 'contracts' | 'lib' | 'service';

/**
 * Layer direction: contracts ← libs ← services. Contracts import no workspace, libs no service, a
 * service no other service; nothing reaches into another workspace by a relative path.
 */
export function checkLayers(file: string, source: string, own: { name: string; layer: Layer; dir: string }, layers: ReadonlyMap<string, Layer>): Violation[] {
  const out: Violation[] = [];
  for (const spec of importsOf(source)) {
    if (spec.startsWith('.')) {
      const target = normalise(`${file.slice(0, file.lastIndexOf('/'))}/${spec}`);
      if (!target.startsWith(`${own.dir}/`)) out.push({ file, rule: 'layers', detail: `reaches outside its workspace: ${spec}` });
      continue;
    }
    const pkg = packageOf(spec);
    const layer = pkg ? layers.get(pkg) : undefined;
    if (!pkg || !layer || pkg === own.name) continue;
    const broken = own.layer === 'contracts' || (own.layer === 'lib' && layer === 'service') || (own.layer === 'service' && layer === 'service');
    if (broken) out.push({ file, rule: 'layers', detail: `a ${own.layer} imports the ${layer} ${pkg}` });
  }
  return out;
}

function normalise(path: string): string {
  const parts: string[] = [];
  for (const p of path.split('/')) {
    if (p === '..') parts.pop();
    else if (p !== '.' && p !== '') parts.push(p);
  }
  return parts.join('/');
}
