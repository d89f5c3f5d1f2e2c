import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import { publishEvent, request, subscribeEvents } from '@mlpipe/bus';
import { eventually } from '@mlpipe/common';
import { storeKeys, type Envelope, type PredictionRecord } from '@mlpipe/contracts';
import { dilate, PIXELS } from '@mlpipe/dataset';
import { createModel, initBackend } from '@mlpipe/ml';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import type { RunningWatcher } from '../../dataset-watcher/src/service';
import { startTrainer, type RunningTrainer } from '../../trainer/src/service';
import { launchBrowser, openPage, screenshot, signedInContext, startUiStack, startWatcherWithData, type UiStack } from './browserHarness';
import { mnistIncomingBatch } from '@mlpipe/testing';

const logger = createLogger('ui-ops-test', 'silent');
/**
 * The UI's operations pages (jobs, data, draw) in Chromium, against a real registry, gateway,
 * orchestrator, dataset watcher and trainer on NATS, PostgreSQL and a folder store. The sweeps
 * page has its own file (browser-sweeps.test.ts): a real sweep takes its own trainer's time.
 */
describe('the jobs, data and draw pages in a real browser', () => {
  let stack: UiStack;
  let bus: UiStack['live']['bus'];
  let watcher: RunningWatcher;
  let trainer: RunningTrainer | undefined;
  let browser: Browser;
  let context: BrowserContext;
  let datasetVersion: string;

  beforeAll(async () => {
    await initBackend('wasm');
    stack = await startUiStack({ orchestrator: true });
    bus = stack.live.bus;
    const { store } = stack.live;
    // Real data through the real watcher: two good batches and one it must reject for its labels.
    const bad = mnistIncomingBatch('train', 2000, 300);
    bad.set.labels[3] = 12;
    bad.set.labels[7] = 11;
    const batches = { 'a-train': mnistIncomingBatch('train', 0, 1500), 'b-test': mnistIncomingBatch('test', 1500, 300), 'c-bad': bad };
    ({ watcher, datasetVersion } = await startWatcherWithData(stack, batches, { DRIFT_WINDOW: '200', DRIFT_POLL_MS: '600000' }));
    // Side by side, to keep the set-up short: the trainer, the draw page's model and the browser.
    [trainer, browser] = await Promise.all([
      startTrainer({ bus, store, logger, metrics: createMetricsRegistry('t'), replicaId: 'trainer-ui', backend: 'wasm', codeVersion: 'test' }),
      launchBrowser(),
      // A registered version for the draw page: untrained weights answer too, and the page only has to show the answer.
      stack.live.publishModel('job-draw', createModel('cnn-small', { seed: 3 }), { accuracy: 0.9, perClassAccuracy: Array(10).fill(0.9) }).then(() => stack.live.waitForChampion()),
    ]);
    const token = (await stack.live.registry.tokens.create('otto', 'operator')).token;
    context = await signedInContext(browser, stack.uiUrl, token, 'otto (operator)');
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await trainer?.stop();
    await watcher?.stop();
    await stack?.close();
  });

  it('jobs: submits with the form\'s hyperparameters, shows live progress with samples/s and members, and cancelling a running job ends it', async () => {
    const cancelled: Envelope<'train.job.cancelled'>[] = [];
    const sub = subscribeEvents(bus, 'train.job.cancelled', (e) => void cancelled.push(e), logger);
    const { page, errors } = await openPage(context, `${stack.uiUrl}/jobs`);
    await page.waitForFunction(() => document.getElementById('live')?.textContent === '(live)');
    await page.selectOption('#submit select[name=arch]', 'cnn-small');
    await page.fill('#submit input[name=epochs]', '50');
    await page.fill('#submit input[name=batchSize]', '32');
    await page.fill('#submit input[name=learningRate]', '0.002');
    await page.fill('#submit input[name=replicas]', '1');
    await page.selectOption('#submit select[name=compression]', 'fp16');
    await page.fill('#submit input[name=trainSubset]', '400');
    // A combination the orchestrator refuses is shown as it worded it, and nothing is queued.
    await page.selectOption('#submit select[name=exchange]', 'ring');
    await page.click('#submit button');
    await page.waitForFunction(() => /^Not submitted: .*exchange "ring" sends float32 gradients/.test(document.getElementById('submit-status')?.textContent ?? ''), undefined, { timeout: 15_000 });
    await page.selectOption('#submit select[name=exchange]', 'coordinator');
    await page.click('#submit button');
    await page.waitForFunction(() => document.getElementById('submit-status')?.textContent?.startsWith('Submitted job-'), undefined, { timeout: 15_000 });
    const jobId = (await page.textContent('#submit-status'))!.replace('Submitted ', '');
    const job = await request(bus, 'orchestrator.jobs.get', { jobId });
    expect(job.hyperparams).toMatchObject({ arch: 'cnn-small', epochs: 50, batchSize: 32, learningRate: 0.002, compression: 'fp16', exchange: 'coordinator', trainSubset: 400 });

    // The real trainer takes it: the row goes running and shows an epoch with its throughput and who trained it.
    const row = `tr[data-job="${jobId}"]`;
    await page.waitForFunction((r) => /samples\/s/.test(document.querySelector(`${r} td:nth-child(4)`)?.textContent ?? ''), row, { timeout: 60_000 });
    await page.waitForFunction((r) => document.querySelector(`${r} td:nth-child(2)`)?.textContent === 'running', row, { timeout: 10_000 });
    expect(await page.textContent(`${row} td:nth-child(4)`)).toMatch(/^epoch \d+\/50, val \d+\.\d\d%, \d+ samples\/s$/);
    expect(await page.textContent(`${row} td:nth-child(6)`)).toMatch(/^1 \(fp16\) · trainer-ui$/);
    await screenshot(page, 'ops-jobs-running');

    await page.click(`${row} button.cancel`);
    await page.waitForFunction((r) => document.querySelector(`${r} td:nth-child(2)`)?.textContent === 'cancelled', row, { timeout: 15_000 });
    expect(await page.textContent(`${row} td:nth-child(7)`)).toMatch(/cancelled from the web UI by otto/);
    expect(await page.locator(`${row} button`).count()).toBe(0);
    // Ended, not only marked: the trainer itself stops the job and says so.
    await eventually(() => cancelled.find((e) => e.data.jobId === jobId), 30_000, 'the trainer to stop the job');
    sub.unsubscribe();
    await screenshot(page, 'ops-jobs-cancelled');
    // No later test here trains: stopped, the trainer takes no sweep trial the ops routes' test submits.
    await trainer?.stop();
    trainer = undefined;

    // A job the orchestrator refuses is said so in words.
    await page.fill('#submit input[name=epochs]', '120'); // the form allows it (the schema's 200); the orchestrator's cap is 50
    await page.click('#submit button');
    await page.waitForFunction(() => document.getElementById('submit-status')?.textContent?.startsWith('Not submitted: '));
    expect(await page.textContent('#submit-status')).toBe('Not submitted: the job asks for 120 epochs; at most 50 (QUOTA_MAX_EPOCHS)');
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);

  it('data: a rejected batch shows every reason, versions show their contents, drift windows show their tests and the drift event', async () => {
    // A drifted window for a version trained on this data: the monitor judges thickened digits.
    const { store } = stack.live;
    await publishEvent(bus, 'model.version.registered', {
      modelName: 'mnist', version: 7, runId: 'job-7', jobId: 'job-7', testAccuracy: 0.95, datasetVersion, trainSamples: 1500,
      artefactPrefix: storeKeys.modelArtefacts('mnist', 'job-7'), decision: { outcome: 'challenger', reason: 'test' },
    }, { source: 'test' });
    await eventually(async () => ((await stack.live.pool.query('select 1 from watcher.model_versions where version = 7')).rowCount ? true : undefined), 15_000, 'the watcher to learn v7');
    const seen = mnistIncomingBatch('test', 0, 1400).set;
    const records = Array.from({ length: 200 }, (_, k): PredictionRecord => ({
      predictionId: `p-${k}`, at: new Date(Date.now() + k).toISOString(), model: 'mnist', version: 7, variant: 'challenger',
      class: seen.labels[k * 7] as number, confidence: 0.9, input28: Buffer.from(dilate(seen.images.subarray(k * 7 * PIXELS, (k * 7 + 1) * PIXELS))).toString('base64'),
    }));
    await store.put(storeKeys.predictionLog('mnist', '2026-12-02', 'ui-ops'), new TextEncoder().encode(records.map((r) => JSON.stringify(r)).join('\n') + '\n'));
    await watcher.drift!.check();
    await eventually(async () => ((await request(bus, 'orchestrator.drift.list', {})).alerts.length ? true : undefined), 15_000, 'the orchestrator to record the drift');

    const { batches } = await request(bus, 'watcher.batches.list', { status: 'rejected' });
    const reasons = batches.find((b) => b.batchId === 'c-bad')!.reasons;
    expect(reasons.join(' ')).toMatch(/labels must be 0-9/);

    const { page, errors } = await openPage(context, `${stack.uiUrl}/data`);
    const row = 'tr[data-batch="c-bad"]';
    await page.waitForSelector(row);
    expect(await page.textContent(`${row} td:nth-child(2)`)).toBe('rejected');
    expect(await page.locator(`${row} ul.reasons li`).allTextContents()).toEqual(reasons);
    expect(await page.textContent('tr[data-batch="a-train"] td:nth-child(2)')).toBe('validated');
    await page.selectOption('#batch-filter', 'rejected');
    await page.waitForFunction(() => document.querySelectorAll('#batches tbody tr').length === 1);

    await page.click(`tr[data-version="${datasetVersion}"] button`);
    await page.waitForSelector('#contents tbody tr');
    expect(await page.locator('#contents tbody tr td:nth-child(3)').allTextContents()).toEqual(['incoming/a-train/', 'incoming/b-test/']);

    await page.waitForFunction(() => document.querySelectorAll('#windows tbody tr.drifted').length === 1);
    expect(await page.textContent('#windows tbody tr.drifted')).toMatch(/ink_share \(ks\): \d\.\d{3} · p=[\d.]+e-?\d+ · PSI \d+\.\d{3} — drifted/);
    expect(await page.locator('#drift-psi .uplot').count()).toBe(1);
    expect(await page.textContent('#alerts tbody tr')).toMatch(/mnist v7/);
    expect(await page.textContent('#alerts tbody tr td:nth-child(4)')).toBe('none yet');
    await screenshot(page, 'ops-data');
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('the ops routes: viewers read, operators submit with the CSRF token, odd ids and queries are refused with a reason', async () => {
    const { ui } = stack;
    const viewer = (await stack.live.registry.tokens.create('vera', 'viewer')).token;
    const operator = (await stack.live.registry.tokens.create('oscar', 'operator')).token;
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    expect((await ui.inject({ url: '/api/data/batches?status=rejected', headers: as(viewer) })).json().batches.map((b: { batchId: string }) => b.batchId)).toEqual(['c-bad']);
    const sweep = { hyperparams: { epochs: 2 }, sweep: { space: { batchSize: [32, 64] } } };
    const byViewer = await ui.inject({ method: 'POST', url: '/api/sweeps', headers: as(viewer), payload: sweep });
    expect(byViewer.statusCode).toBe(403);
    // A browser's session cookie without the CSRF token: refused before the role is even looked at.
    const login = await ui.inject({ url: '/api/session' });
    const cookies = login.cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    const noCsrf = await ui.inject({ method: 'POST', url: '/api/sweeps', headers: { cookie: cookies }, payload: sweep });
    expect(noCsrf.statusCode).toBe(403);
    expect(noCsrf.json().error).toMatch(/csrf/i);
    const byOperator = await ui.inject({ method: 'POST', url: '/api/sweeps', headers: as(operator), payload: sweep });
    expect(byOperator.statusCode).toBe(200);
    expect(byOperator.json().trials).toHaveLength(2);
    expect((await request(bus, 'orchestrator.jobs.get', { jobId: byOperator.json().trials[0].jobId })).submittedBy).toBe('oscar');
    expect((await ui.inject({ url: '/api/sweeps', headers: as(viewer) })).json().sweeps.map((s: { sweepId: string }) => s.sweepId)).toEqual([byOperator.json().sweepId]);
    for (const [url, reason] of [
      ['/api/data/datasets/not-a-hash', /not a dataset version id/],
      ['/api/data/batches?status=lost', /bad batch query: status/],
      ['/api/data/drift?model=Bad_Name', /bad drift query: model/],
      ['/api/sweeps/..%2fjobs', /encoded slash/],
    ] as const) {
      const res = await ui.inject({ url, headers: as(viewer) });
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error, url).toMatch(reason);
    }
    const unknown = await ui.inject({ url: `/api/data/datasets/${'e'.repeat(64)}`, headers: as(viewer) });
    expect(unknown.statusCode).toBe(404);
  });

  it('draw: the prediction appears while drawing, without pressing a button, from versions grouped by alias', async () => {
    const { page, errors } = await openPage(context, stack.uiUrl);
    await page.waitForSelector('#model optgroup[label="champion"] option', { state: 'attached' });
    expect(await page.locator('#model optgroup[label="champion"] option').first().textContent()).toMatch(/^mnist v1 \(champion\) — /);
    const box = (await page.locator('#pad').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.15);
    await page.mouse.down();
    for (let i = 1; i <= 20; i++) await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * (0.15 + i * 0.035));
    // The pen is still down: the answer must come from the debounced drawing alone.
    await page.waitForSelector('#result:not([hidden])', { timeout: 15_000 });
    await page.mouse.up();
    expect(await page.textContent('#answer')).toMatch(/^\d$/);
    expect(await page.textContent('#meta')).toMatch(/^mnist v1 · \d+\.\d ms · prediction [0-9a-f-]{36}$/);
    await screenshot(page, 'ops-draw-live');
    expect(errors).toEqual([]);
    await page.close();
  }, 30_000);
});
