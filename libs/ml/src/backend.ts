import * as tf from '@tensorflow/tfjs';
import { registerWasmGradientKernels } from './kernels/registerWasmGradients';

export type BackendPreference = 'auto' | 'node' | 'wasm' | 'cpu';
export interface BackendChoice {
  name: 'tensorflow' | 'wasm' | 'cpu';
  reason: string;
}

let chosen: BackendChoice | undefined;

/**
 * Picks the fastest TensorFlow.js backend that loads here: the native one (tfjs-node) when its
 * library installed, else WASM (with our gradient kernels), else pure-JS CPU. Idempotent.
 */
export async function initBackend(preferred: BackendPreference = 'auto'): Promise<BackendChoice> {
  if (chosen && (preferred === 'auto' || backendMatches(chosen, preferred))) return chosen;
  const reasons: string[] = [];
  if (preferred === 'auto' || preferred === 'node') {
    try {
      // A variable specifier: the package is optional and may be absent, so the compiler must not resolve it.
      const nativeBackend = '@tensorflow/tfjs-node';
      await import(nativeBackend);
      if (await tf.setBackend('tensorflow')) return (chosen = { name: 'tensorflow', reason: 'tfjs-node loaded' });
      reasons.push('tfjs-node loaded but its backend did not start');
    } catch (err) {
      reasons.push(`tfjs-node unavailable (${firstLine(err)})`);
    }
    if (preferred === 'node') throw new Error(`TRAINER_BACKEND=node but ${reasons.join('; ')}`);
  }
  if (preferred === 'auto' || preferred === 'wasm') {
    try {
      await import('@tensorflow/tfjs-backend-wasm');
      if (await tf.setBackend('wasm')) {
        await tf.ready();
        registerWasmGradientKernels();
        return (chosen = { name: 'wasm', reason: [...reasons, 'using WASM with SIMD and our gradient kernels on XNNPACK'].join('; ') });
      }
      reasons.push('WASM backend did not start');
    } catch (err) {
      reasons.push(`WASM unavailable (${firstLine(err)})`);
    }
    if (preferred === 'wasm') throw new Error(`TRAINER_BACKEND=wasm but ${reasons.join('; ')}`);
  }
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
  await tf.ready();
  return (chosen = { name: 'cpu', reason: [...reasons, 'using the pure-JS CPU backend (slow)'].join('; ') });
}

function backendMatches(c: BackendChoice, p: BackendPreference): boolean {
  return (p === 'node' && c.name === 'tensorflow') || p === c.name;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}
