import type * as tf from '@tensorflow/tfjs';
import { FusedAdamOptimizer } from './adam';
import { FusedMomentumOptimizer, FusedSGDOptimizer } from './momentum';
import type { VariableGradient } from './variableUpdate';

export { FusedAdamOptimizer } from './adam';
export { FusedMomentumOptimizer, FusedSGDOptimizer } from './momentum';
export type { VariableGradient } from './variableUpdate';

/** An optimizer that also takes gradients as plain arrays (no tensor per variable). */
export interface FusedOptimizer extends tf.Optimizer {
  applyVariableGradients(gradients: VariableGradient[]): void;
}

/** Duck-typed: tfjs's Optimizer answers `instanceof` for any optimizer-shaped object, so instanceof cannot tell. */
export function isFusedOptimizer(o: tf.Optimizer | undefined): o is FusedOptimizer {
  return typeof (o as Partial<FusedOptimizer> | undefined)?.applyVariableGradients === 'function';
}

/**
 * The fused counterpart of a tfjs Adam, Momentum or SGD optimizer, with its configuration and
 * state (iterations, moments) carried over; any other optimizer comes back as it is. Used on
 * models tfjs deserialised (it builds its own classes from the saved className).
 */
export async function fuseOptimizer(o: tf.Optimizer): Promise<tf.Optimizer> {
  if (isFusedOptimizer(o)) return o;
  const config = o.getConfig();
  const num = (key: string) => config[key] as number;
  let fused: tf.Optimizer;
  switch (o.getClassName()) {
    case 'Adam':
      fused = new FusedAdamOptimizer(num('learningRate'), num('beta1'), num('beta2'), num('epsilon'));
      break;
    case 'Momentum':
      fused = new FusedMomentumOptimizer(num('learningRate'), num('momentum'), config['useNesterov'] === true);
      break;
    case 'SGD':
      fused = new FusedSGDOptimizer(num('learningRate'));
      break;
    default:
      return o;
  }
  const state = await o.getWeights();
  await fused.setWeights(state);
  // The counter tensor is made afresh by getWeights; the moments now belong to `fused` as well.
  state[0]?.tensor.dispose();
  o.dispose();
  return fused;
}
