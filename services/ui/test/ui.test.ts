import { mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { publishEvent } from '@mlpipe/bus';
import { storeKeys } from '@mlpipe/contracts';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import type { ObjectStore } from '@mlpipe/storage';
import { readIncomingBatch, parseIdx, readSeedFile, PIXELS } from '@mlpipe/dataset';
import { createModel, evaluateModel, initBackend, trainModel } from '@mlpipe/ml';
import { startLiveRegistry, type LiveRegistry } from '@mlpipe/testing';
import { startRegistry, type RunningRegistry } from '@mlpipe/registry/service';
import { startGateway, type RunningGateway } from '../../gateway/src/service';
import { startOrchestrator, type RunningOrchestrator } from '../../orchestrator/src/service';
import { OrchestratorConfigSchema, loadConfig } from '@mlpipe/config';
import { buildUi } from '../src/app';

const logger = createLogger('ui-test', 'silent');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const artefacts = resolve(import.meta.dirname, '../../../test-artifacts');

describe('web UI in a real browser, against a real gateway and registry', () => {
  let live: LiveRegistry<RunningRegistry>;
  let bus: LiveRegistry['bus'];
  let store: ObjectStore;
  let gateway: RunningGateway;
  let ui: FastifyInstance;
  let uiUrl = '';
  let browser: Browser;
  /** One browser profile, signed in as an operator: its pages share the session cookie. */
  let context: BrowserContext;
  let operatorToken = '';
  let orchestrator: RunningOrchestrator;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
    await initBackend('wasm');
    live = await startLiveRegistry(startRegistry, { GATE_MARGIN: 0.002, GATE_CLASS_FLOOR: 0.5 });
    ({ bus, store } = live);
    const registryUrl = live.url;
    gateway = startGateway({ registryUrl, bus, logger, metrics: createMetricsRegistry('g') });
    const gatewayUrl = await gateway.app.listen({ port: 0, host: '127.0.0.1' });
    orchestrator = await startOrchestrator({
      config: loadConfig(OrchestratorConfigSchema, { DATABASE_URL: live.databaseUrl, AUTO_TRAIN_ENABLED: 'false' }),
      bus,
      pool: live.pool,
      logger,
      metrics: createMetricsRegistry('o'),
    });
    ui = await buildUi({ bus, gatewayUrl, registryUrl, store, dataPrefix: 'incoming/', metrics: createMetricsRegistry('u'), logger });
    uiUrl = await ui.listen({ port: 0, host: '127.0.0.1' });

    // A real model, trained here and registered through the registry's event path.
    const images = parseIdx(readSeedFile('mnist', 'train-images-idx3-ubyte')).data.slice(0, 6000 * PIXELS);
    const labels = parseIdx(readSeedFile('mnist', 'train-labels-idx1-ubyte')).data.slice(0, 6000);
    const model = createModel('cnn-small', { seed: 1 });
    await trainModel(model, { train: { images, labels, count: 6000 } }, { epochs: 2, batchSize: 32, seed: 1 });
    const ev = evaluateModel(model, { images: images.subarray(0, 500 * PIXELS), labels: labels.subarray(0, 500), count: 500 });
    await live.publishModel('job-ui', model, { ...ev, perClassAccuracy: ev.perClassAccuracy.map(() => 0.9) });
    await live.waitForChampion();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    // Signing in through the login page: the token is checked by the registry and becomes a session cookie.
    operatorToken = (await live.registry.tokens.create('olivia', 'operator')).token;
    context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    const login = await context.newPage();
    await login.goto(`${uiUrl}/login`);
    await login.fill('#token', operatorToken);
    await login.click('#login button');
    await login.waitForURL(`${uiUrl}/`);
    await login.waitForFunction(() => document.getElementById('session')?.textContent?.includes('olivia (operator)'));
    await login.close();
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await ui?.close();
    await orchestrator?.stop();
    await gateway?.app.close();
    await gateway?.stop();
    await live?.close();
  });

  it('draws a digit, shows the prediction and model version, and stores a correction in the bucket', async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(uiUrl);
    await page.waitForSelector('#model option', { state: 'attached' });
    expect(await page.locator('#model option').first().textContent()).toMatch(/^mnist v1 \(champion\) — \d+\.\d+%$/);

    // A "1": one vertical mouse stroke down the middle of the pad.
    const box = (await page.locator('#pad').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.15);
    await page.mouse.down();
    for (let i = 1; i <= 20; i++) await page.mouse.move(box.x + box.width * (0.5 + i * 0.002), box.y + box.height * (0.15 + i * 0.035));
    await page.mouse.up();
    await page.click('#predict');
    await page.waitForSelector('#result:not([hidden])');
    expect(await page.textContent('#answer')).toBe('1');
    expect(await page.textContent('#meta')).toMatch(/^mnist v1 · \d+\.\d ms · prediction [0-9a-f-]{36}$/);
    expect(await page.locator('#bars .bar').count()).toBe(10);

    await mkdir(artefacts, { recursive: true });
    await page.screenshot({ path: join(artefacts, 'ui-prediction.png'), fullPage: true });

    await page.selectOption('#truth', '7');
    await page.click('#feedback button');
    await page.waitForFunction(() => document.getElementById('feedback-status')?.textContent?.startsWith('Thanks'));
    const stored = (await store.list('incoming/')).filter((o) => o.key.endsWith('/batch.json'));
    expect(stored).toHaveLength(1);
    const batch = await readIncomingBatch(store, stored[0]!.key.replace(/batch\.json$/, ''));
    expect(batch.ok).toBe(true);
    if (batch.ok) expect(Array.from(batch.set.labels)).toEqual([7]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('lists runs with their hyperparameters, metric and aliases on the experiments page', async () => {
    const page = await context.newPage();
    await page.goto(`${uiUrl}/experiments`);
    await page.waitForSelector('#runs tbody tr');
    const cells = await page.locator('#runs tbody tr').first().locator('td').allTextContents();
    expect(cells[0]).toBe('job-ui');
    expect(cells[1]).toBe('finished');
    expect(cells[2]).toBe('cnn-small');
    expect(Number(cells[6])).toBeGreaterThan(0.5);
    expect(await page.textContent('#aliases')).toBe('champion → v1');
    await page.close();
  });

  it('submits a job on the jobs page and shows its progress live', async () => {
    const H = (c: string) => c.repeat(64);
    await publishEvent(bus, 'data.batch.validated', {
      batchId: 'b', sourcePrefix: 'incoming/b/', dataset: 'mnist', split: 'test', contentHash: H('a'), samples: 10, classCounts: Array(10).fill(1),
      normalisedPrefix: 'datasets/mnist/batches/a/', warnings: [],
      datasetVersion: { id: H('c'), dataset: 'mnist', trainSamples: 100, testSamples: 10, trainBatchCount: 1, testBatchCount: 1, manifestKey: storeKeys.datasetVersion('mnist', H('c')), manifestSha256: H('d') },
    }, { source: 'test' });
    const page = await context.newPage();
    await page.goto(`${uiUrl}/jobs`);
    await page.waitForFunction(() => document.getElementById('live')?.textContent === '(live)');
    await expect.poll(async () => {
      await page.click('#submit button');
      return page.textContent('#submit-status');
    }, { timeout: 15_000 }).toMatch(/^Submitted job-/);
    const jobId = (await page.textContent('#submit-status'))!.replace('Submitted ', '');
    await page.waitForSelector(`tr[data-job="${jobId}"]`);
    expect(await page.locator(`tr[data-job="${jobId}"] td`).nth(1).textContent()).toBe('queued');
    await publishEvent(bus, 'train.job.progress', {
      jobId, replicaId: 'r', attempt: 1, checkpointKey: 'checkpoints/x/',
      metrics: { epoch: 1, epochs: 2, loss: 0.5, accuracy: 0.8, valAccuracy: 0.9, samplesPerSec: 100, seconds: 1 },
    }, { source: 'test' });
    await page.waitForFunction((id) => document.querySelector(`tr[data-job="${id}"]`)?.textContent?.includes('epoch 1/2, val 90.00%'), jobId);
    await page.click(`tr[data-job="${jobId}"] button`);
    await page.waitForFunction((id) => document.querySelector(`tr[data-job="${id}"] td:nth-child(2)`)?.textContent === 'cancelled', jobId);
    await page.close();
  });

  it('shows an anonymous visitor what a viewer may do: the correction button is disabled', async () => {
    const anonymous = await browser.newPage();
    await anonymous.goto(uiUrl);
    await anonymous.waitForFunction(() => document.getElementById('session')?.textContent?.includes('not signed in'));
    expect(await anonymous.locator('#feedback button').isDisabled()).toBe(true);
    expect(await anonymous.locator('#feedback button').getAttribute('title')).toMatch(/needs role operator/);
    await anonymous.close();
  });

  it('answers a malformed correction with a reason and stores nothing', async () => {
    const res = await ui.inject({ method: 'POST', url: '/api/feedback', headers: { authorization: `Bearer ${operatorToken}` }, payload: { pixels: Array(784).fill(0), label: 12 } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatch(/label/);
  });
});
