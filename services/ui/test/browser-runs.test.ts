import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import { eventually } from '@mlpipe/common';
import { initBackend } from '@mlpipe/ml';
import { writeMnistVersion } from '@mlpipe/testing';
import type { DatasetVersion, TrainJobCompleted } from '@mlpipe/contracts';
import { launchBrowser, openPage, screenshot, signedInContext, startUiStack, type UiStack } from './browserHarness';
import { recordTrainedRun } from './trainedRun';

const TRAIN = 600;
const TEST = 200;

/**
 * The run, compare and registry pages in Chromium against a real registry and gateway, with two
 * real training runs (cnn-small on MNIST samples, different batch sizes and learning rates),
 * reported as the trainer reports them and registered through the gate.
 */
describe('the run, compare and registry pages in a real browser', () => {
  let stack: UiStack;
  let browser: Browser;
  let admin: BrowserContext;
  let viewer: BrowserContext;
  let dataset: DatasetVersion;
  const runs: Record<'a' | 'b', TrainJobCompleted | undefined> = { a: undefined, b: undefined };

  beforeAll(async () => {
    await initBackend('wasm');
    stack = await startUiStack({ gate: { GATE_MARGIN: 0.002, GATE_CLASS_FLOOR: 0 } });
    const { live } = stack;
    dataset = await writeMnistVersion(live.store, TRAIN, TEST);
    runs.a = await recordTrainedRun(live.bus, live.store, { jobId: 'run-a', hyperparams: { epochs: 3, batchSize: 32, learningRate: 0.003, seed: 1 }, datasetVersion: dataset, trainSamples: TRAIN, testSamples: TEST });
    runs.b = await recordTrainedRun(live.bus, live.store, { jobId: 'run-b', hyperparams: { epochs: 2, batchSize: 64, learningRate: 0.01, seed: 2 }, datasetVersion: dataset, trainSamples: TRAIN, testSamples: TEST });
    await eventually(async () => ((await (await fetch(`${live.url}/models/mnist`)).json()) as { versions?: number }).versions === 2, 30_000, 'both runs registered');
    browser = await launchBrowser();
    admin = await signedInContext(browser, stack.uiUrl, (await live.registry.tokens.create('ada', 'admin')).token, 'ada (admin)');
    viewer = await signedInContext(browser, stack.uiUrl, (await live.registry.tokens.create('vera', 'viewer')).token, 'vera (viewer)');
  }, 180_000);

  afterAll(async () => {
    await admin?.close();
    await viewer?.close();
    await browser?.close();
    await stack?.close();
  });

  it("shows a run's curves per epoch, its confusion matrix, gate decision, lineage, model card and artefacts", async () => {
    const run = runs.a!;
    const { page, errors } = await openPage(viewer, `${stack.uiUrl}/runs/run-a`);
    await page.waitForSelector('#confusion table.heatmap');
    // uPlot charts with axes and legends: accuracy (train and validation), loss, throughput.
    await page.waitForSelector('[data-chart="Accuracy per epoch"] .uplot');
    const legend = await page.locator('[data-chart="Accuracy per epoch"] .u-legend .u-series th').allTextContents();
    expect(legend.map((l) => l.trim())).toEqual(['epoch', 'accuracy', 'val_accuracy']);
    expect(await page.locator('[data-chart="Loss per epoch"] .uplot').count()).toBe(1);
    expect(await page.locator('[data-chart="Accuracy per epoch"] .u-axis').count()).toBe(2);
    // Hovering the plot shows the values under the cursor in the legend: the validation accuracy of an epoch.
    const over = page.locator('[data-chart="Accuracy per epoch"] .u-over');
    const box = (await over.boundingBox())!;
    await page.mouse.move(box.x + box.width - 2, box.y + box.height / 2);
    const epochs = run.history.map((h) => h.valAccuracy!.toFixed(4));
    await expect.poll(async () => (await page.locator('[data-chart="Accuracy per epoch"] .u-legend .u-series').nth(2).locator('.u-value').textContent())?.trim()).toBeOneOf(epochs);

    // The confusion matrix of the evaluation, cell for cell.
    const matrix = run.evaluation.confusionMatrix;
    const cells = await page.locator('#confusion td').allTextContents();
    expect(cells).toHaveLength(100);
    expect(cells.map(Number)).toEqual(matrix.flat());
    expect(cells.map(Number).reduce((a, b) => a + b, 0)).toBe(TEST);
    expect(await page.locator('#per-class tr').count()).toBe(10);
    expect(await page.textContent('#per-class tr[data-class="3"] td')).toBe(`${(run.evaluation.perClassAccuracy[3]! * 100).toFixed(2)}%`);

    expect(await page.textContent('#params tr[data-param="batchSize"] td')).toBe('32');
    expect(await page.textContent('#gate-outcome')).toBe('champion');
    expect(await page.textContent('#gate-champion')).toBe('none: the first version');
    expect(await page.textContent('#code-version')).toBe('ui-test-0001');
    // The lineage's batch table comes from a second request: wait for it, or for its error.
    await page.waitForSelector('#batches tbody tr, #lineage p.muted');
    expect(await page.textContent('#lineage')).not.toContain('not available');
    expect(await page.locator('#batches tbody tr').count()).toBe(2);
    expect(await page.textContent('#model-card')).toContain('# mnist — job run-a');
    // An artefact downloads through the UI's route with the viewer's session.
    const href = await page.locator('#artefacts a', { hasText: 'confusion matrix' }).getAttribute('href');
    const download = await page.request.get(`${stack.uiUrl}${href}`);
    expect(download.status()).toBe(200);
    expect(((await download.json()) as { matrix: number[][] }).matrix).toEqual(matrix);
    await screenshot(page, 'run-page');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('filters and sorts the runs table, and compares two runs: both curves overlaid, the differing parameters highlighted', async () => {
    const { page, errors } = await openPage(viewer, `${stack.uiUrl}/experiments`);
    await page.waitForSelector('#runs tbody tr[data-run="run-b"]');
    expect(await page.locator('#runs tbody tr').count()).toBe(2);
    await page.fill('#filter', 'learningRate>0.005');
    await expect.poll(() => page.locator('#runs tbody tr').evaluateAll((rs) => rs.map((r) => (r as HTMLElement).dataset.run))).toEqual(['run-b']);
    await page.fill('#filter', 'batchSize=32');
    await expect.poll(() => page.locator('#runs tbody tr').evaluateAll((rs) => rs.map((r) => (r as HTMLElement).dataset.run))).toEqual(['run-a']);
    await page.fill('#filter', 'nonsense');
    await expect.poll(() => page.textContent('#filter-status')).toMatch(/is not a filter/);
    await page.fill('#filter', '');
    // Sorting by a parameter's column, both ways.
    await page.click('#runs th[data-key="params.learningRate"]');
    expect(await page.locator('#runs tbody tr').evaluateAll((rs) => rs.map((r) => (r as HTMLElement).dataset.run))).toEqual(['run-a', 'run-b']);
    await page.click('#runs th[data-key="params.learningRate"]');
    expect(await page.locator('#runs tbody tr').evaluateAll((rs) => rs.map((r) => (r as HTMLElement).dataset.run))).toEqual(['run-b', 'run-a']);
    // Searching by tag: every run has attempt=1, none is pruned.
    await page.fill('#tag-search', 'pruned');
    await expect.poll(() => page.locator('#runs tbody tr').count()).toBe(0);
    await page.fill('#tag-search', 'attempt=1');
    await expect.poll(() => page.locator('#runs tbody tr').count()).toBe(2);

    expect(await page.locator('#compare').isDisabled()).toBe(true);
    await page.check('[data-select="run-a"]');
    await page.check('[data-select="run-b"]');
    await screenshot(page, 'experiments-page');
    await page.click('#compare');
    await page.waitForURL(/\/compare\?runs=/);
    await page.waitForSelector('[data-chart="val_accuracy"] .uplot');
    const series = await page.locator('[data-chart="val_accuracy"] .u-legend .u-series th').allTextContents();
    expect(series.map((s) => s.trim()).sort()).toEqual(['epoch', 'run-a', 'run-b']);
    expect(await page.getAttribute('#params tr[data-key="learningRate"]', 'class')).toBe('differs');
    expect(await page.locator('#params tr[data-key="learningRate"] td.differs').allTextContents()).toEqual(['0.003', '0.01']);
    expect(await page.getAttribute('#params tr[data-key="batchSize"]', 'class')).toBe('differs');
    expect(await page.getAttribute('#params tr[data-key="arch"]', 'class')).toBeNull();
    await screenshot(page, 'compare-page');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('lets an admin promote a version (the alias moves, the audit entry appears); a viewer sees no actions', async () => {
    const { live, gatewayUrl } = stack;
    // Traffic for the live shares: three answers from the champion.
    for (let i = 0; i < 3; i++) expect((await fetch(`${gatewayUrl}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pixels: Array(784).fill(0) }) })).status).toBe(200);
    const champion = ((await (await fetch(`${live.url}/models/mnist/aliases/champion`)).json()) as { version: number }).version;
    const other = champion === 1 ? 2 : 1;

    const seen = await openPage(viewer, `${stack.uiUrl}/models/mnist`);
    await seen.page.waitForSelector('#versions tbody tr[data-version="2"]');
    expect(await seen.page.locator('[data-action]').count()).toBe(0);
    expect(await seen.page.locator('#actions-panel').isHidden()).toBe(true);
    expect(await seen.page.textContent('#versions tr[data-version="1"] [data-key="gate"]')).toBe('champion');
    expect(await seen.page.textContent('#versions tr[data-version="1"] [data-key="reason"]')).toMatch(/^first version to pass the gate/);
    expect(await seen.page.textContent('#versions tr[data-version="2"] [data-key="reason"]')).toMatch(/champion v1/);
    await seen.page.waitForSelector('#shares tr[data-variant="champion"]');
    expect(await seen.page.locator('#shares tr[data-variant="champion"] td').allTextContents()).toEqual(['champion', '3', '100.0%']);
    await seen.page.close();

    // From the nav's Registry link: the models list, then the model's page.
    const { page, errors } = await openPage(admin, `${stack.uiUrl}/experiments`);
    await page.click('#nav a:text-is("Registry")');
    await page.waitForSelector('#models tr[data-model="mnist"]');
    const listed = await page.locator('#models tr[data-model="mnist"] td').allTextContents();
    expect(listed.slice(0, 2)).toEqual(['mnist', '2']);
    expect(listed[2]).toContain(`champion → v${champion}`);
    await page.click('#models a:text-is("mnist")');
    await page.waitForURL(`${stack.uiUrl}/models/mnist`);
    expect(await page.getAttribute('#nav a:text-is("Registry")', 'aria-current')).toBe('page');
    await page.waitForSelector(`[data-action="champion"][data-version="${other}"]`);
    await page.fill('#move-reason', 'the browser test moves it');
    await page.click(`[data-action="champion"][data-version="${other}"]`);
    await page.waitForFunction((v) => document.querySelector('[data-alias="champion"]')?.textContent === `champion → v${v}`, other);
    expect(((await (await fetch(`${live.url}/models/mnist/aliases/champion`)).json()) as { version: number }).version).toBe(other);
    // The admin's entry, wherever it sorts: the gate's own alias move for the same version can carry the same second.
    const moved = page.locator('#audit tbody tr', { hasText: 'the browser test moves it' });
    await moved.waitFor();
    expect(await moved.locator('td').allTextContents()).toEqual([expect.any(String), 'ada', 'alias.set', `v${other}`, 'champion', 'the browser test moves it']);
    expect(await page.textContent('#move-status')).toBe(`champion → v${other} (was v${champion})`);
    await screenshot(page, 'registry-page');
    expect(errors).toEqual([]);
    await page.close();
  });
});
