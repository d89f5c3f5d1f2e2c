import { ConfigError } from '@mlpipe/common';

/** What runs a loaded version's predictions in a model replica. */
export type ServingRuntime = 'tfjs' | 'onnx';

/** GATEWAY_RUNTIME: `auto` serves with onnxruntime-node when it loads, else tfjs; `onnx` insists on it; `tfjs` never uses it. */
export type RuntimeSetting = 'auto' | ServingRuntime;

/** The replica's runtime and why: logged once at start-up. */
export interface RuntimeChoice {
  runtime: ServingRuntime;
  reason: string;
}

/**
 * The replica's runtime from GATEWAY_RUNTIME and whether onnxruntime-node could be loaded. `auto`
 * takes onnx because it is the faster of the two here (bench/serve/runtimes.ts: about 4x per
 * single-image call, 5-7x per batch of 32) and every ONNX artefact was checked against tfjs within
 * 1e-5 at registration. An explicit `onnx` on a machine without the runtime is a start-up error,
 * not a quiet tfjs replica: whoever set it expects its speed.
 */
export function chooseRuntime(setting: RuntimeSetting, onnxLoads: boolean): RuntimeChoice {
  if (setting === 'tfjs') return { runtime: 'tfjs', reason: 'GATEWAY_RUNTIME=tfjs' };
  if (onnxLoads) return { runtime: 'onnx', reason: `GATEWAY_RUNTIME=${setting}: onnxruntime-node loaded; versions without a verified ONNX export are served by tfjs` };
  if (setting === 'onnx') throw new ConfigError('GATEWAY_RUNTIME=onnx but onnxruntime-node cannot be loaded: install it (npm install with the native binary) or set GATEWAY_RUNTIME=auto or tfjs');
  return { runtime: 'tfjs', reason: 'GATEWAY_RUNTIME=auto: onnxruntime-node cannot be loaded, so every version is served by tfjs' };
}
