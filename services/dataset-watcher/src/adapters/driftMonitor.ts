import { consumeEvents, publishEvent, type Bus, type RunningConsumer } from '@mlpipe/bus';
import { describeError, type Logger } from '@mlpipe/common';
import { PIXELS, PredictionRecordSchema, storeKeys, type DriftDetected, type DriftWindow } from '@mlpipe/contracts';

type DriftTest = DriftDetected['tests'][number];
import { loadDatasetVersion } from '@mlpipe/dataset';
import type { ObjectStore } from '@mlpipe/storage';
import { Counter, Gauge, type Registry } from 'prom-client';
import { assessDrift, buildReference, type DriftOptions, type DriftReference } from '@mlpipe/drift';
import type { WatcherRepository } from './watcherRepository';

export interface DriftMonitorOptions {
  store: ObjectStore;
  bus: Bus;
  repo: WatcherRepository;
  logger: Logger;
  metrics: Registry;
  windowSize: number;
  pollMs: number;
  thresholds?: Partial<DriftOptions>;
  /** Keeps every judged window (drifted or not) for the UI's drift view. */
  recordWindow?: (w: Omit<DriftWindow, 'judgedAt'>) => Promise<void>;
}

export interface RunningDriftMonitor {
  /** Reads new prediction logs and judges every full window now. */
  check(): Promise<void>;
  stop(): Promise<void>;
}

interface Window {
  images: Uint8Array[];
  classes: number[];
  from: string;
  to: string;
}

/**
 * Watches the predictions the gateway samples into the store: per model version, every window
 * of DRIFT_WINDOW answered predictions (shadow answers excluded) is compared with the version's
 * training data. The statistics go to Prometheus; a drifted window becomes `data.drift.detected`
 * with its evidence, for the orchestrator's retraining policy.
 */
export async function startDriftMonitor(o: DriftMonitorOptions): Promise<RunningDriftMonitor> {
  const { store, bus, repo, logger } = o;
  const psiGauge = new Gauge({ name: 'mlpipe_drift_psi', help: 'Population stability index of the last judged window, by model and test', labelNames: ['model', 'test'], registers: [o.metrics] });
  const pGauge = new Gauge({ name: 'mlpipe_drift_p_value', help: 'p-value of the last judged window (KS for input features, chi-square for predicted classes)', labelNames: ['model', 'test'], registers: [o.metrics] });
  const windows = new Counter({ name: 'mlpipe_drift_windows_total', help: 'Prediction windows judged, by verdict', labelNames: ['model', 'verdict'], registers: [o.metrics] });
  const detected = new Counter({ name: 'mlpipe_drift_detected_total', help: 'Windows whose inputs or predictions drifted from the training data', labelNames: ['model'], registers: [o.metrics] });

  const references = new Map<string, Promise<{ reference: DriftReference; datasetVersion: string } | undefined>>();
  const open = new Map<string, Window>();
  const seen = new Set<string>();

  const registered: RunningConsumer = await consumeEvents(bus, {
    durable: 'watcher-model-events',
    logger,
    metrics: o.metrics,
    handlers: { 'model.version.registered': async (e) => repo.recordModelVersion(e.data.modelName, e.data.version, e.data.datasetVersion) },
  });

  const referenceOf = (model: string, version: number) => {
    const key = `${model}/${version}`;
    let entry = references.get(key);
    if (!entry) {
      entry = (async () => {
        const training = await repo.trainingDataOf(model, version);
        if (!training) return undefined;
        const data = await loadDatasetVersion(store, training.dataset, training.versionId);
        // The training labels stand in for the predictions of a model that learned them.
        const train = { images: data.train.images, count: data.train.count };
        return { reference: buildReference(train, data.train.labels.subarray(0, data.train.count)), datasetVersion: training.versionId };
      })();
      entry.catch(() => references.delete(key));
      references.set(key, entry);
    }
    return entry;
  };

  const judge = async (model: string, version: number, w: Window) => {
    const ref = await referenceOf(model, version);
    if (!ref) {
      logger.warn({ model, version }, 'no training data known for this model version; its prediction window is skipped');
      windows.inc({ model, verdict: 'unknown-version' });
      return;
    }
    const images = new Uint8Array(w.images.length * PIXELS);
    w.images.forEach((img, i) => images.set(img, i * PIXELS));
    const verdict = assessDrift(ref.reference, { images, count: w.images.length }, w.classes, o.thresholds ?? {});
    if (verdict.status === 'too-few-samples') return;
    const tests: DriftTest[] = [
      ...Object.entries(verdict.features).map(([name, f]) => ({ name, kind: 'ks' as const, statistic: f.ks, pValue: f.pValue, psi: f.psi, drifted: f.drifted })),
      { name: 'predicted_class', kind: 'chi-square', statistic: verdict.predictions.chiSquare, pValue: verdict.predictions.pValue, psi: verdict.predictions.psi, drifted: verdict.predictions.drifted },
    ];
    for (const t of tests) {
      psiGauge.set({ model, test: t.name }, t.psi);
      pGauge.set({ model, test: t.name }, t.pValue);
    }
    windows.inc({ model, verdict: verdict.status });
    detected.inc({ model }, 0); // the series exists from the first window, so its first drift is an increase
    const eventId = `data.drift.detected:${model}:${version}:${w.to}`;
    await o.recordWindow?.({
      modelName: model,
      modelVersion: version,
      from: w.from,
      to: w.to,
      samples: verdict.samples,
      drifted: verdict.drifted,
      reasons: verdict.reasons,
      tests,
      eventId: verdict.drifted ? eventId : null,
    });
    if (!verdict.drifted) return;
    detected.inc({ model });
    const event: DriftDetected = {
      modelName: model,
      modelVersion: version,
      referenceDatasetVersion: ref.datasetVersion,
      window: { from: w.from, to: w.to, samples: verdict.samples },
      reasons: verdict.reasons,
      tests,
    };
    logger.warn({ model, version, reasons: verdict.reasons }, 'drift detected');
    await publishEvent(bus, 'data.drift.detected', event, { source: 'dataset-watcher', eventId });
  };

  const readLog = async (key: string) => {
    const text = new TextDecoder().decode(await store.get(key));
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      const parsed = PredictionRecordSchema.safeParse(JSON.parse(line));
      if (!parsed.success || parsed.data.variant === 'shadow') continue;
      const r = parsed.data;
      const id = `${r.model}/${r.version}`;
      const w = open.get(id) ?? { images: [], classes: [], from: r.at, to: r.at };
      w.images.push(new Uint8Array(Buffer.from(r.input28, 'base64')));
      w.classes.push(r.class);
      w.to = r.at;
      open.set(id, w);
      if (w.images.length >= o.windowSize) {
        open.delete(id);
        await judge(r.model, r.version, w);
      }
    }
  };

  let running: Promise<void> | undefined;
  const check = (): Promise<void> => {
    running ??= (async () => {
      const listed = await store.list(storeKeys.predictionLogs());
      // Logs the gateway deleted past their retention are forgotten too, so this set stays as small as the prefix.
      const present = new Set(listed.map((x) => x.key));
      for (const key of seen) if (!present.has(key)) seen.delete(key);
      const objects = listed.filter((x) => !seen.has(x.key)).sort((a, b) => a.key.localeCompare(b.key));
      for (const x of objects) {
        seen.add(x.key);
        try {
          await readLog(x.key);
        } catch (err) {
          logger.warn({ key: x.key, err: describeError(err) }, 'could not read a prediction log; skipped');
        }
      }
    })().finally(() => (running = undefined));
    return running;
  };
  const timer = setInterval(() => void check().catch((err: unknown) => logger.error({ err: describeError(err) }, 'drift check failed')), o.pollMs);
  return {
    check,
    stop: async () => {
      clearInterval(timer);
      await running;
      await registered.stop();
    },
  };
}
