import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { build } from 'esbuild';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PageSpec } from './pages';

/** A built file served under /assets/: its name carries a hash of its content, so it may be cached for good. */
interface Asset {
  body: Uint8Array;
  type: string;
}

export interface BuiltAssets {
  /** /assets/<name> → its bytes. */
  files: ReadonlyMap<string, Asset>;
  /** Each page's path → its whole HTML document (with the hashed script and style names) and its ETag. */
  documents: ReadonlyMap<string, { html: string; etag: string }>;
}

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json' };
const IMMUTABLE = 'public, max-age=31536000, immutable';
const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Bundles every page's script (and the shared stylesheet, with uPlot's) with esbuild, in memory, at
 * start-up: pages import npm packages and share chunks, nothing is fetched from a CDN, and a
 * deployed UI needs no build step of its own. Output names are content-hashed; the HTML documents
 * that name them are small and revalidated by ETag.
 */
export async function buildAssets(webDir: string, pages: readonly PageSpec[]): Promise<BuiltAssets> {
  const outdir = join(webDir, '.assets'); // never written (write: false); esbuild needs a place to name outputs from
  const entries = [...new Set(pages.map((p) => p.entry))];
  const result = await build({
    entryPoints: [...entries.map((e) => ({ in: join(webDir, 'pages', `${e}.ts`), out: e })), { in: join(webDir, 'style.css'), out: 'style' }],
    bundle: true,
    splitting: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    write: false,
    metafile: true,
    outdir,
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    assetNames: '[name]-[hash]',
    logLevel: 'silent',
  });
  const files = new Map<string, Asset>();
  for (const f of result.outputFiles) {
    const name = basename(f.path);
    files.set(name, { body: f.contents, type: TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream' });
  }
  // Which hashed file each entry became.
  const built = new Map<string, string>();
  for (const [path, out] of Object.entries(result.metafile.outputs)) {
    if (out.entryPoint) built.set(basename(out.entryPoint).replace(/\.(ts|css)$/, ''), basename(path));
  }
  const style = built.get('style');
  if (!style) throw new Error('esbuild produced no stylesheet');

  const documents = new Map<string, { html: string; etag: string }>();
  for (const page of pages) {
    const script = built.get(page.entry);
    if (!script) throw new Error(`esbuild produced no script for page ${page.entry}`);
    const fragment = await readFile(join(webDir, 'pages', `${page.entry}.html`), 'utf8');
    const html = documentOf(page, fragment, script, style);
    documents.set(page.path, { html, etag: `"${createHash('sha256').update(html).digest('base64url').slice(0, 22)}"` });
  }
  return { files, documents };
}

/** The shell every page shares: the header the nav and the session indicator fill (web/shell.ts), the page's own <main>. */
function documentOf(page: PageSpec, fragment: string, script: string, style: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>mlpipe — ${escapeHtml(page.title)}</title><link rel="stylesheet" href="/assets/${style}"></head>
<body data-page="${escapeHtml(page.entry)}">
<header id="shell"><h1><a href="/">mlpipe</a></h1><nav id="nav"></nav><span id="session"></span></header>
<main>
${fragment.trim()}
</main>
<script type="module" src="/assets/${script}"></script>
</body>
</html>
`;
}

/** GET routes for the pages (ETag, revalidated on every load) and the hashed assets (cached for a year). */
export function serveAssets(app: FastifyInstance, assets: BuiltAssets): void {
  for (const [path, doc] of assets.documents) {
    app.get(path, async (req: FastifyRequest, reply: FastifyReply) => {
      void reply.header('cache-control', 'no-cache').header('etag', doc.etag);
      if (req.headers['if-none-match'] === doc.etag) return reply.code(304).send();
      return reply.type('text/html; charset=utf-8').send(doc.html);
    });
  }
  app.get('/assets/:file', async (req, reply) => {
    const asset = assets.files.get((req.params as { file: string }).file);
    if (!asset) return reply.code(404).send({ error: 'no such asset (names change with every build: reload the page)', code: 'not_found' });
    return reply.header('cache-control', IMMUTABLE).type(asset.type).send(Buffer.from(asset.body));
  });
}
