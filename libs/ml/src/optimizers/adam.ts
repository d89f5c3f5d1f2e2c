import * as tf from '@tensorflow/tfjs';
import { gradientList, slotsFromVariables, syncSlotVariables, updateVariable, type NamedTensor, type OptimizerVariable, type SlotValues, type VariableGradient } from './variableUpdate';

const f32 = Math.fround;

/** What tfjs's AdamOptimizer keeps privately and this class keeps in step with (tfjs 4.22). */
interface AdamInternals {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: OptimizerVariable[];
  accumulatedSecondMoment: OptimizerVariable[];
}

interface AdamSlot {
  m: SlotValues;
  v: SlotValues;
}

/**
 * tf.train.adam with each variable's update done in one loop over its values instead of about
 * ten engine ops. Every step rounds to float32 where tfjs's op chain does, in the same order,
 * so the result is the same bit for bit on backends that compute float32 exactly (cpu, wasm).
 * It stays an AdamOptimizer (className 'Adam', the same getWeights/setWeights), so checkpoints
 * move freely between it and tfjs's own. The moments live in JS arrays and are written to the
 * parent's variables only when someone asks for the weights.
 */
export class FusedAdamOptimizer extends tf.AdamOptimizer {
  private slots: AdamSlot[] = [];
  /** beta1^t and beta2^t as tfjs's accBeta variables hold them (float32, multiplied once per step). */
  private beta1Power: number;
  private beta2Power: number;

  /** The defaults are tf.train.adam's; without an epsilon the backend's (1e-7 on float32 backends). */
  constructor(learningRate: number, beta1 = 0.9, beta2 = 0.999, epsilon?: number) {
    super(learningRate, beta1, beta2, epsilon);
    this.beta1Power = f32(beta1);
    this.beta2Power = f32(beta2);
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    this.applyVariableGradients(gradientList(variableGradients));
  }

  /** The update for gradients given in the model's variable order (tensors or flat slices). */
  applyVariableGradients(gradients: VariableGradient[]): void {
    const b1 = f32(this.beta1);
    const b2 = f32(this.beta2);
    const keep1 = f32(1 - this.beta1);
    const keep2 = f32(1 - this.beta2);
    const correction1 = f32(1 - this.beta1Power);
    const correction2 = f32(1 - this.beta2Power);
    const eps = f32(this.epsilon);
    const step = f32(-this.learningRate);
    gradients.forEach(({ variable, gradient }, i) => {
      const slot = (this.slots[i] ??= {
        m: { name: `${variable.name}/m`, shape: variable.shape.slice(), values: new Float32Array(variable.size) },
        v: { name: `${variable.name}/v`, shape: variable.shape.slice(), values: new Float32Array(variable.size) },
      });
      if (!gradient) return;
      const m = slot.m.values;
      const v = slot.v.values;
      updateVariable(variable, gradient, (value, g, out) => {
        for (let j = 0; j < out.length; j++) {
          const gj = g[j] as number;
          const mj = f32(f32((m[j] as number) * b1) + f32(gj * keep1));
          const vj = f32(f32((v[j] as number) * b2) + f32(f32(gj * gj) * keep2));
          m[j] = mj;
          v[j] = vj;
          const denom = f32(f32(Math.sqrt(f32(vj / correction2))) + eps);
          out[j] = f32(f32(f32(f32(mj / correction1) / denom) * step) + (value[j] as number));
        }
      });
    });
    this.beta1Power = f32(this.beta1Power * b1);
    this.beta2Power = f32(this.beta2Power * b2);
    this.incrementIterations();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const p = this as unknown as AdamInternals;
    p.accumulatedFirstMoment = syncSlotVariables(p.accumulatedFirstMoment, this.slots.map((s) => s.m));
    p.accumulatedSecondMoment = syncSlotVariables(p.accumulatedSecondMoment, this.slots.map((s) => s.v));
    return super.getWeights();
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    await super.setWeights(weightValues);
    const p = this as unknown as AdamInternals;
    const ms = slotsFromVariables(p.accumulatedFirstMoment);
    const vs = slotsFromVariables(p.accumulatedSecondMoment);
    this.slots = ms.map((m, i) => ({ m, v: vs[i] as SlotValues }));
    // tfjs recomputes the powers as beta^(t+1) on the backend: read them back rather than redo that here.
    this.beta1Power = p.accBeta1.dataSync()[0] as number;
    this.beta2Power = p.accBeta2.dataSync()[0] as number;
  }
}
