import * as tf from '@tensorflow/tfjs';
import { gradientList, slotsFromVariables, syncSlotVariables, updateVariable, type NamedTensor, type OptimizerVariable, type SlotValues, type VariableGradient } from './variableUpdate';

const f32 = Math.fround;

/** What tfjs's MomentumOptimizer keeps privately (tfjs 4.22). */
interface MomentumInternals {
  accumulations: OptimizerVariable[];
}

/**
 * tf.train.momentum (with or without Nesterov) with each variable's update in one loop, rounding
 * to float32 where tfjs's op chain does, in the same order: bit for bit the same on cpu and wasm.
 * className 'Momentum' and the same saved weights (`<variable>/momentum`), so checkpoints move
 * freely between it and tfjs's own. Accumulators live in JS arrays between getWeights calls.
 */
export class FusedMomentumOptimizer extends tf.MomentumOptimizer {
  private slots: SlotValues[] = [];
  /** tfjs keeps the momentum as a float32 scalar made once at construction; so does this. */
  private readonly momentumF32: number;
  private readonly nesterov: boolean;

  constructor(learningRate: number, momentum: number, useNesterov = false) {
    super(learningRate, momentum, useNesterov);
    this.momentumF32 = f32(momentum);
    this.nesterov = useNesterov;
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    this.applyVariableGradients(gradientList(variableGradients));
  }

  /** The update for gradients given in the model's variable order (tensors or flat slices). */
  applyVariableGradients(gradients: VariableGradient[]): void {
    const mu = this.momentumF32;
    // tfjs's SGD keeps -learningRate as a float32 scalar (renewed by setLearningRate).
    const c = f32(-this.learningRate);
    const nesterov = this.nesterov;
    gradients.forEach(({ variable, gradient }, i) => {
      const slot = (this.slots[i] ??= { name: `${variable.name}/momentum`, shape: variable.shape.slice(), values: new Float32Array(variable.size) });
      if (!gradient) return;
      const acc = slot.values;
      updateVariable(variable, gradient, (value, g, out) => {
        for (let j = 0; j < out.length; j++) {
          const gj = g[j] as number;
          const a = f32(f32(mu * (acc[j] as number)) + gj);
          acc[j] = a;
          const delta = nesterov ? f32(gj + f32(a * mu)) : a;
          out[j] = f32(f32(c * delta) + (value[j] as number));
        }
      });
    });
    this.incrementIterations();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const p = this as unknown as MomentumInternals;
    p.accumulations = syncSlotVariables(p.accumulations, this.slots);
    return super.getWeights();
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    await super.setWeights(weightValues);
    this.slots = slotsFromVariables((this as unknown as MomentumInternals).accumulations);
  }
}

/** tf.train.sgd with each variable's update in one loop (value + float32(-rate) · gradient, as tfjs rounds it). */
export class FusedSGDOptimizer extends tf.SGDOptimizer {
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    this.applyVariableGradients(gradientList(variableGradients));
  }

  applyVariableGradients(gradients: VariableGradient[]): void {
    const c = f32(-this.learningRate);
    for (const { variable, gradient } of gradients) {
      if (!gradient) continue;
      updateVariable(variable, gradient, (value, g, out) => {
        for (let j = 0; j < out.length; j++) out[j] = f32(f32(c * (g[j] as number)) + (value[j] as number));
      });
    }
    this.incrementIterations();
  }
}
