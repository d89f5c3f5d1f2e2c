import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import { publishEvent } from '@mlpipe/bus';
import { storeKeys } from '@mlpipe/contracts';
import { readIncomingBatch, parseIdx, readSeedFile, PIXELS } from '@mlpipe/dataset';
import { createModel, evaluateModel, initBackend, trainModel } from '@mlpipe/ml';
import { launchBrowser, screenshot, signedInContext, startUiStack, type UiStack } from './browserHarness';

describe('web UI in a real browser, against a real gateway and registry', () => {
  let stack: UiStack;
  let bus: UiStack['live']['bus'];
  let store: UiStack['live']['store'];
  let uiUrl = '';
  let browser: Browser;
  /** One browser profile, signed in as an operator: its pages share the session cookie. */
  let context: BrowserContext;
  let operatorToken = '';

  beforeAll(async () => {
    await initBackend('wasm');
    stack = await startUiStack({ orchestrator: true });
    ({ uiUrl } = stack);
    ({ bus, store } = stack.live);

    // A real model, trained here and registered through the registry's event path.
    const images = parseIdx(readSeedFile('mnist', 'train-images-idx3-ubyte')).data.slice(0, 6000 * PIXELS);
    const labels = parseIdx(readSeedFile('mnist', 'train-labels-idx1-ubyte')).data.slice(0, 6000);
    const model = createModel('cnn-small', { seed: 1 });
    await trainModel(model, { train: { images, labels, count: 6000 } }, { epochs: 2, batchSize: 32, seed: 1 });
    const ev = evaluateModel(model, { images: images.subarray(0, 500 * PIXELS), labels: labels.subarray(0, 500), count: 500 });
    await stack.live.publishModel('job-ui', model, { ...ev, perClassAccuracy: ev.perClassAccuracy.map(() => 0.9) });
    await stack.live.waitForChampion();
    browser = await launchBrowser();
    // Signing in through the login page: the token is checked by the registry and becomes a session cookie.
    operatorToken = (await stack.live.registry.tokens.create('olivia', 'operator')).token;
    context = await signedInContext(browser, uiUrl, operatorToken, 'olivia (operator)');
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await stack?.close();
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

    await screenshot(page, 'prediction');

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
    const row = page.locator('#runs tbody tr').first();
    const cell = (key: string) => row.locator(`td[data-key="${key}"]`).textContent();
    expect(await cell('run')).toBe('job-ui');
    expect(await cell('status')).toBe('finished');
    expect(await cell('params.arch')).toBe('cnn-small');
    expect(Number(await cell('metrics.test_accuracy'))).toBeGreaterThan(0.5);
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
    const res = await stack.ui.inject({ method: 'POST', url: '/api/feedback', headers: { authorization: `Bearer ${operatorToken}` }, payload: { pixels: Array(784).fill(0), label: 12 } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatch(/label/);
  });
});
