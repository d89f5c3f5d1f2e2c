import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { startLiveRegistry, type LiveRegistry } from '@mlpipe/testing';
import { startRegistry, type RunningRegistry } from '@mlpipe/registry/service';
import { DatasetWatcherConfigSchema, OrchestratorConfigSchema, loadConfig } from '@mlpipe/config';
import { request } from '@mlpipe/bus';
import { eventually } from '@mlpipe/common';
import { writeIncomingBatch, type IncomingBatch } from '@mlpipe/dataset';
import { startWatcher, type RunningWatcher } from '../../dataset-watcher/src/service';
import { startGateway, type RunningGateway } from '../../gateway/src/service';
import { startOrchestrator, type RunningOrchestrator } from '../../orchestrator/src/service';
import { buildUi, type UiDeps } from '../src/app';

// What every browser test of the UI shares: real services on free ports, Debian's Chromium through
// playwright-core, signing in through the login page, and screenshots kept as test artefacts.

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Screenshots land here (the repository's .gitignore ignores test-artifacts/); CI uploads the folder. */
export const SCREENSHOTS = resolve(import.meta.dirname, '../../../test-artifacts/ui');

export interface UiStack {
  live: LiveRegistry<RunningRegistry>;
  gateway: RunningGateway;
  orchestrator?: RunningOrchestrator;
  ui: FastifyInstance;
  uiUrl: string;
  gatewayUrl: string;
  close(): Promise<void>;
}

export interface UiStackOptions {
  /** The gate's settings for the registry (a test that registers a weak model lowers the class floor). */
  gate?: { GATE_MARGIN: number; GATE_CLASS_FLOOR: number };
  /** Start an orchestrator too (the jobs page's backend). */
  orchestrator?: boolean;
  /** More of the UI's deps (limits, auth settings). */
  ui?: Partial<UiDeps>;
}

/** A registry (real PostgreSQL, NATS and a folder store), a gateway, optionally an orchestrator, and the UI, each listening on a free port. */
export async function startUiStack(o: UiStackOptions = {}): Promise<UiStack> {
  const logger = createLogger('ui-test', 'silent');
  const live = await startLiveRegistry(startRegistry, o.gate ?? { GATE_MARGIN: 0.002, GATE_CLASS_FLOOR: 0.5 });
  const gateway = startGateway({ registryUrl: live.url, bus: live.bus, logger, metrics: createMetricsRegistry('g') });
  const gatewayUrl = await gateway.app.listen({ port: 0, host: '127.0.0.1' });
  const orchestrator = o.orchestrator
    ? await startOrchestrator({
        config: loadConfig(OrchestratorConfigSchema, { DATABASE_URL: live.databaseUrl, AUTO_TRAIN_ENABLED: 'false' }),
        bus: live.bus,
        pool: live.pool,
        logger,
        metrics: createMetricsRegistry('o'),
      })
    : undefined;
  const ui = await buildUi({ bus: live.bus, gatewayUrl, registryUrl: live.url, store: live.store, dataPrefix: 'incoming/', metrics: createMetricsRegistry('u'), logger, ...o.ui });
  const uiUrl = await ui.listen({ port: 0, host: '127.0.0.1' });
  return {
    live,
    gateway,
    ...(orchestrator ? { orchestrator } : {}),
    ui,
    uiUrl,
    gatewayUrl,
    close: async () => {
      await ui.close();
      await orchestrator?.stop();
      await gateway.app.close();
      await gateway.stop();
      await live.close();
    },
  };
}

/**
 * A real dataset watcher over the stack's store, fed `batches` (batch id → incoming batch) under
 * incoming/: it validates them and announces the dataset version, which the orchestrator learns
 * as it would in production. Resolves with the watcher and the newest version with both splits.
 */
export async function startWatcherWithData(
  stack: UiStack,
  batches: Record<string, IncomingBatch>,
  // By default no drift checks: nothing serves predictions for the monitor to judge.
  env: Record<string, string> = { DRIFT_ENABLED: 'false' },
): Promise<{ watcher: RunningWatcher; datasetVersion: string }> {
  const { bus, pool, store } = stack.live;
  await store.ensureReady();
  for (const [batchId, batch] of Object.entries(batches)) await writeIncomingBatch(store, `incoming/${batchId}/`, batch);
  const config = loadConfig(DatasetWatcherConfigSchema, { DATA_POLL_MS: '200', ...env });
  const watcher = await startWatcher({ config, bus, pool, store, logger: createLogger('ui-test-watcher', 'silent'), metrics: createMetricsRegistry('w') });
  const { versions } = await eventually(async () => {
    const listed = await request(bus, 'watcher.datasets.list', {});
    return listed.versions.some((v) => v.trainSamples && v.testSamples) ? listed : undefined;
  }, 30_000, 'a dataset version with both splits');
  return { watcher, datasetVersion: versions.find((v) => v.trainSamples && v.testSamples)!.id };
}

/** Debian's Chromium, headless, without anything that reaches the network on its own. Fails (never skips) when it is missing. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A browser profile signed in through the login page (the token becomes the session cookie its pages share). */
export async function signedInContext(browser: Browser, uiUrl: string, token: string, expected: string): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const login = await context.newPage();
  await login.goto(`${uiUrl}/login`);
  await login.fill('#token', token);
  await login.click('#login button');
  await login.waitForURL(`${uiUrl}/`);
  await login.waitForFunction((who) => document.getElementById('session')?.textContent?.includes(who), expected);
  await login.close();
  return context;
}

/** A page that records its script errors, so a test can assert there were none. */
export async function openPage(context: BrowserContext, url: string): Promise<{ page: Page; errors: string[]; consoleErrors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  const consoleErrors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  await page.goto(url);
  return { page, errors, consoleErrors };
}

/** Saves a full-page screenshot as a test artefact: test-artifacts/ui/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
