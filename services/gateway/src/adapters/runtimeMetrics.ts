import { Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from '@mlpipe/common';
import type { LoadedModel } from './modelCache';

/**
 * What the replica says about every version it loads: the load time, which runtime serves it
 * (`mlpipe_model_runtime{model,version,runtime} 1` while it is loaded), and, when tfjs serves it in
 * an onnx replica, why (a warning: a version that is slower than its neighbours should say so).
 */
export function runtimeReporting(registry: Registry, logger: Logger): { onLoad: (m: LoadedModel, seconds: number) => void; onUnload: (m: LoadedModel) => void } {
  const loadTime = new Histogram({ name: 'mlpipe_model_load_seconds', help: 'Time to load a model version', labelNames: ['model'], registers: [registry] });
  const runtime = new Gauge({
    name: 'mlpipe_model_runtime',
    help: 'Loaded model versions by the runtime serving their predictions (onnx: onnxruntime-node; tfjs: tfjs, by GATEWAY_RUNTIME or for a version without a usable ONNX export)',
    labelNames: ['model', 'version', 'runtime'],
    registers: [registry],
  });
  const labels = (m: LoadedModel) => ({ model: m.name, version: String(m.version), runtime: m.runtime });
  return {
    onLoad: (m, seconds) => {
      loadTime.observe({ model: m.name }, seconds);
      runtime.set(labels(m), 1);
      const fields = { model: m.name, version: m.version, runtime: m.runtime, seconds };
      if (m.fallback) logger.warn({ ...fields, reason: m.fallback }, `${m.name} v${m.version} is served by tfjs, not onnxruntime-node: ${m.fallback}`);
      else logger.info(fields, `${m.name} v${m.version} loaded, served by ${m.runtime}`);
    },
    onUnload: (m) => runtime.remove(labels(m)),
  };
}
