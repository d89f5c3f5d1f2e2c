import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { createObjectStore } from '@mlpipe/storage';
import { buildUi } from '../src/app';
import { PAGES } from '../src/pages';

/** The bundled pages: every page in the registry served in the shared shell, assets content-hashed and cached, pages revalidated. */
describe('the UI serves its bundled pages and assets with cache headers', () => {
  let ui: FastifyInstance;
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mlpipe-ui-assets-'));
    // No backend is needed to serve pages: nothing here is forwarded.
    ui = await buildUi({ gatewayUrl: 'http://127.0.0.1:9', registryUrl: 'http://127.0.0.1:9', store: createObjectStore({ kind: 'fs', root }), dataPrefix: 'incoming/', metrics: createMetricsRegistry('ui-assets'), logger: createLogger('ui-assets', 'silent') });
  });
  afterAll(async () => {
    await ui?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('serves every registered page in the shell, naming a hashed script and stylesheet that exist', async () => {
    for (const page of PAGES) {
      const url = page.path.replace(':id', 'run-1').replace(':name', 'mnist');
      const res = await ui.inject({ url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.body).toContain('<nav id="nav"></nav><span id="session"></span>');
      const script = /<script type="module" src="\/assets\/([^"]+)">/.exec(res.body)?.[1];
      const style = /<link rel="stylesheet" href="\/assets\/([^"]+)">/.exec(res.body)?.[1];
      expect(script, url).toMatch(new RegExp(`^${page.entry}-[A-Z0-9]{8}\\.js$`));
      expect(style).toMatch(/^style-[A-Z0-9]{8}\.css$/);
      const js = await ui.inject({ url: `/assets/${script}` });
      expect(js.statusCode).toBe(200);
      expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
      expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    }
  });

  it("bundles npm packages into the assets: uPlot's code and its stylesheet, nothing from a CDN", async () => {
    const run = await ui.inject({ url: '/runs/x' });
    const css = await ui.inject({ url: `/assets/${/href="\/assets\/([^"]+\.css)"/.exec(run.body)![1]}` });
    expect(css.body).toContain('.uplot');
    expect(run.body).not.toMatch(/https?:\/\//);
    // The run page's script and the chunks it imports (relative to /assets/) hold uPlot itself.
    const entry = (await ui.inject({ url: `/assets/${/src="\/assets\/([^"]+\.js)"/.exec(run.body)![1]}` })).body;
    const chunks = [...entry.matchAll(/from"\.\/(chunk-[A-Z0-9]{8}\.js)"/g)].map((m) => m[1]!);
    expect(chunks.length).toBeGreaterThan(0);
    const code = [entry, ...(await Promise.all(chunks.map(async (c) => (await ui.inject({ url: `/assets/${c}` })).body)))].join('\n');
    expect(code).toContain('u-legend');
    expect(code).not.toMatch(/import\s*[^;]*from\s*"uplot"/);
  });

  it('revalidates a page by ETag (304 while unchanged) and answers an unknown asset 404 with the reason', async () => {
    const first = await ui.inject({ url: '/experiments' });
    expect(first.headers['cache-control']).toBe('no-cache');
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"[\w-]{22}"$/);
    const again = await ui.inject({ url: '/experiments', headers: { 'if-none-match': etag } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    const gone = await ui.inject({ url: '/assets/run-OLDHASH1.js' });
    expect(gone.statusCode).toBe(404);
    expect(gone.json().error).toMatch(/reload the page/);
  });
});
