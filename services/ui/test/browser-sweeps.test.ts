import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import { request, subscribeEvents } from '@mlpipe/bus';
import { eventually } from '@mlpipe/common';
import type { Envelope } from '@mlpipe/contracts';
import { initBackend } from '@mlpipe/ml';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { mnistIncomingBatch } from '@mlpipe/testing';
import type { RunningWatcher } from '../../dataset-watcher/src/service';
import { startTrainer, type RunningTrainer } from '../../trainer/src/service';
import { launchBrowser, openPage, screenshot, signedInContext, startUiStack, startWatcherWithData, type UiStack } from './browserHarness';

const logger = createLogger('ui-sweeps-test', 'silent');

/** Every trial trains this many epochs: room for the pruned trial's stop to reach the trainer while it trains on. */
const EPOCHS = 8;
/** The trials share one seed, so they start from the same weights: at 1e-7 the third barely moves from them. */
const LEARNING_RATES = [0.003, 0.002, 1e-7];

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/**
 * The sweeps page in Chromium against the real thing: a sweep started from the page's form is run
 * by the real orchestrator (trials as jobs, the median rule), trained by a real trainer on MNIST
 * samples the real dataset watcher validated, recorded by the registry, and read back by the UI.
 */
describe('the sweeps page in a real browser, over a sweep the orchestrator and a trainer really run', () => {
  let stack: UiStack;
  let watcher: RunningWatcher | undefined;
  let trainer: RunningTrainer | undefined;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    await initBackend('wasm');
    stack = await startUiStack({ orchestrator: true });
    ({ watcher } = await startWatcherWithData(stack, { 'a-train': mnistIncomingBatch('train', 0, 1200), 'b-test': mnistIncomingBatch('test', 1200, 300) }));
    // One trainer takes the trials one at a time, in the grid's order: the hopeless third is judged
    // against the two before it, which have every epoch by then.
    const { bus, store } = stack.live;
    [trainer, browser] = await Promise.all([
      startTrainer({ bus, store, logger, metrics: createMetricsRegistry('t'), replicaId: 'trainer-sweeps', backend: 'wasm', codeVersion: 'test' }),
      launchBrowser(),
    ]);
    const token = (await stack.live.registry.tokens.create('sue', 'operator')).token;
    context = await signedInContext(browser, stack.uiUrl, token, 'sue (operator)');
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await trainer?.stop();
    await watcher?.stop();
    await stack?.close();
  });

  it('a grid from the form: the hopeless trial pruned by the median rule with its reason, every curve, the best trial', async () => {
    const { bus } = stack.live;
    const cancelled: Envelope<'train.job.cancelled'>[] = [];
    const sub = subscribeEvents(bus, 'train.job.cancelled', (e) => void cancelled.push(e), logger);
    const { page, errors } = await openPage(context, `${stack.uiUrl}/sweeps`);

    // Given a grid of three learning rates started from the form, one of them hopeless,
    await page.selectOption('#sweep-form select[name=strategy]', 'grid');
    await page.fill('#sweep-form input[name=learningRate]', LEARNING_RATES.join(', '));
    await page.fill('#sweep-form input[name=batchSize]', '32');
    await page.fill('#sweep-form input[name=arch]', 'cnn-small');
    await page.fill('#sweep-form input[name=epochs]', String(EPOCHS));
    await page.fill('#sweep-form input[name=trainSubset]', '1000');
    await page.selectOption('#sweep-form select[name=rule]', 'median');
    await page.fill('#sweep-form input[name=minEpochs]', '1');
    await page.click('#sweep-form button');
    await page.waitForFunction(() => /^Started sweep-\S+ with 3 trials$/.test(document.getElementById('sweep-status')?.textContent ?? ''), undefined, { timeout: 15_000 });
    const sweepId = (await page.textContent('#sweep-status'))!.split(' ')[1]!;
    const submitted = await request(bus, 'orchestrator.sweeps.get', { sweepId });
    expect(submitted.trials.map((t) => t.hyperparams.learningRate)).toEqual(LEARNING_RATES);
    expect(submitted.trials[0]!.hyperparams).toMatchObject({ arch: 'cnn-small', epochs: EPOCHS, batchSize: 32, trainSubset: 1000 });

    // when the trainer has run every trial and the orchestrator closed the sweep,
    await page.waitForFunction(
      (id) => new RegExp(`^grid sweep ${id}: succeeded — `).test(document.getElementById('sweep-summary')?.textContent ?? ''),
      sweepId,
      { timeout: 200_000, polling: 1000 },
    );
    const sweep = await request(bus, 'orchestrator.sweeps.get', { sweepId });
    const [good1, good2, hopeless] = sweep.trials;

    // then the hopeless trial is pruned by the median rule at its first epoch, with the real scores in the reason,
    expect(hopeless).toMatchObject({ pruned: true, status: 'cancelled' });
    const firstEpoch = (t: typeof hopeless) => t!.history!.find((m) => m.epoch === 1)!.valAccuracy!;
    const median = (firstEpoch(good1) + firstEpoch(good2)) / 2;
    const reason = `pruned by the median rule at epoch 1: ${pct(firstEpoch(hopeless))} is below the median ${pct(median)} of 2 other trials`;
    const pruned = 'tr[data-trial="2"]';
    expect(await page.getAttribute(pruned, 'class')).toBe('pruned');
    expect(await page.textContent(`${pruned} td:nth-child(3)`)).toBe('pruned');
    expect(await page.textContent(`${pruned} td:nth-child(4)`)).toBe('arch cnn-small, learningRate 1e-7, batchSize 32');
    expect(await page.textContent(`${pruned} td:nth-child(7)`)).toBe(reason);
    // and stopped, not only marked: the trainer ended it before its last epoch and said so.
    const prunedEpochs = Number(await page.textContent(`${pruned} td:nth-child(6)`));
    expect(prunedEpochs).toBe(hopeless!.epochs);
    expect(prunedEpochs).toBeLessThan(EPOCHS);
    await eventually(() => cancelled.find((e) => e.data.jobId === hopeless!.jobId), 30_000, 'the trainer to report the pruned trial stopped');
    sub.unsubscribe();

    // The other two ran every epoch; the better of them is the best trial, in the table and the summary.
    for (const t of [good1!, good2!]) {
      const row = `tr[data-trial="${t.trial}"]`;
      expect(await page.textContent(`${row} td:nth-child(3)`)).toBe('succeeded');
      expect(await page.textContent(`${row} td:nth-child(6)`)).toBe(String(EPOCHS));
      expect(await page.textContent(`${row} td:nth-child(7)`)).not.toMatch(/pruned/);
    }
    const best = good1!.valAccuracy! >= good2!.valAccuracy! ? good1! : good2!;
    expect(sweep.bestJobId).toBe(best.jobId);
    expect(await page.getAttribute(`tr[data-trial="${best.trial}"]`, 'class')).toBe('best');
    expect(await page.textContent(`tr[data-trial="${best.trial}"] td:first-child .tag`)).toBe('best');
    expect(await page.textContent('#sweep-summary')).toContain(`; best: trial ${best.trial} (`);

    // The curves: one series per trial, the pruned one named so; hovering the last epoch reads the real scores.
    const curves = '#curves';
    await page.waitForSelector(`${curves} .uplot`);
    const legend = (await page.locator(`${curves} .u-legend .u-series th`).allTextContents()).map((l) => l.trim());
    expect(legend).toEqual(['epoch', 'trial 0', 'trial 1', 'trial 2 (pruned)']);
    await page.locator(`${curves} .u-over`).scrollIntoViewIfNeeded();
    const over = (await page.locator(`${curves} .u-over`).boundingBox())!;
    await page.mouse.move(over.x + over.width - 2, over.y + over.height / 2);
    const valueOf = (series: number) => page.locator(`${curves} .u-legend .u-series`).nth(series).locator('.u-value').textContent().then((v) => v?.trim());
    const lastOf = (t: typeof best) => t.history!.at(-1)!.valAccuracy!.toFixed(4);
    await expect.poll(() => valueOf(1), { timeout: 10_000 }).toBe(lastOf(good1!));
    expect(await valueOf(2)).toBe(lastOf(good2!));
    expect(await valueOf(3)).toBe('–'); // stopped before the last epoch
    expect(await page.locator('#scatter .u-legend .u-series').count()).toBe(4); // x plus three trials

    // The registry recorded the sweep as a parent run naming its best trial.
    const parent = await eventually(async () => {
      const { runs } = (await (await fetch(`${stack.live.url}/experiments/mnist/runs`)).json()) as { runs: { runId: string; tags: Record<string, string> }[] };
      return runs.find((r) => r.runId === sweepId && r.tags.best_run);
    }, 30_000, 'the registry to record the sweep');
    expect(parent.tags.best_run).toBe(best.jobId);

    await screenshot(page, 'sweeps-pruned');
    expect(errors).toEqual([]);
    await page.close();
  }, 240_000);
});
