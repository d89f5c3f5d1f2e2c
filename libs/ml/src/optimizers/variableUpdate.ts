import * as tf from '@tensorflow/tfjs';

/**
 * One variable's update, element by element: reads the variable's values and its gradient and
 * writes the new values into `out` (the optimizer's moments live in the closure). All three
 * arrays have the variable's size; `value` and `gradient` must not be written.
 */
export type ElementwiseUpdate = (value: Float32Array, gradient: Float32Array, out: Float32Array) => void;

/** A gradient as an engine tensor (trainOnBatch) or as a slice of a flattened one (the data-parallel step). */
export type GradientValues = tf.Tensor | Float32Array;

/** The parts of the WASM backend used here: tensors whose bytes sit in its heap. */
interface HeapBackend {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  dataIdMap: { has(dataId: object): boolean };
}

function heapBackend(): HeapBackend | undefined {
  const b = tf.backend() as unknown as Partial<HeapBackend>;
  return typeof b.makeOutput === 'function' && typeof b.typedArrayFromHeap === 'function' && b.dataIdMap ? (b as HeapBackend) : undefined;
}

/**
 * Replaces `variable` by update(value, gradient) with one new tensor and one assign, instead of
 * a chain of engine ops. On WASM the update reads and writes the backend's heap directly (no
 * copies); elsewhere (cpu, tfjs-node) it goes through dataSync and a fresh array per step (the
 * CPU backend keeps the array it is given, so it must not be reused).
 */
export function updateVariable(variable: tf.Variable, gradient: GradientValues, update: ElementwiseUpdate): void {
  if (variable.dtype !== 'float32') throw new Error(`fused optimizers update float32 variables only; ${variable.name} is ${variable.dtype}`);
  const count = gradient instanceof Float32Array ? gradient.length : gradient.size;
  if (count !== variable.size) throw new Error(`gradient of ${variable.name} has ${count} values, the variable ${variable.size}`);
  const heap = heapBackend();
  const onHeap = (t: tf.Tensor) => heap !== undefined && t.dtype === 'float32' && heap.dataIdMap.has(t.dataId);
  if (heap && onHeap(variable) && (gradient instanceof Float32Array || onHeap(gradient))) {
    // Allocate first: a malloc may grow the heap, which detaches every view taken before it.
    const info = heap.makeOutput(variable.shape, 'float32');
    const out = heap.typedArrayFromHeap(info);
    const grad = gradient instanceof Float32Array ? gradient : heap.typedArrayFromHeap(gradient);
    update(heap.typedArrayFromHeap(variable), grad, out);
    assignAndRelease(variable, tf.engine().makeTensorFromTensorInfo(info));
    return;
  }
  const out = new Float32Array(variable.size);
  const grad = gradient instanceof Float32Array ? gradient : (gradient.dataSync() as Float32Array);
  update(variable.dataSync() as Float32Array, grad, out);
  assignAndRelease(variable, tf.tensor(out, variable.shape, 'float32'));
}

function assignAndRelease(variable: tf.Variable, next: tf.Tensor): void {
  variable.assign(next);
  next.dispose();
}

/** An optimizer's per-variable state as it is saved: the name tfjs gives it (`<variable>/m`) and its values. */
export interface SlotValues {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** A tfjs optimizer's own record of one state variable (what its getWeights hands out). */
export interface OptimizerVariable {
  originalName: string;
  variable: tf.Variable;
}

/**
 * Writes slots held in JS arrays into the optimizer's tfjs variables, so the parent class's
 * getWeights (and dispose) see them: existing variables are assigned, missing ones created.
 */
export function syncSlotVariables(existing: OptimizerVariable[], slots: SlotValues[]): OptimizerVariable[] {
  return slots.map((s, i) => {
    // A copy: the CPU backend would keep the array itself, which the next step overwrites.
    const current = tf.tensor(s.values.slice(), s.shape, 'float32');
    const known = existing[i];
    if (known && known.variable.size === s.values.length) {
      assignAndRelease(known.variable, current);
      return { originalName: s.name, variable: known.variable };
    }
    const variable = tf.variable(current, false);
    current.dispose();
    return { originalName: s.name, variable };
  });
}

/** Reads the state variables a parent's setWeights made into JS arrays (copies: the CPU backend's dataSync is its own array). */
export function slotsFromVariables(vars: OptimizerVariable[]): SlotValues[] {
  return vars.map((v) => ({ name: v.originalName, shape: v.variable.shape.slice(), values: (v.variable.dataSync() as Float32Array).slice() }));
}

/** A named tensor as tfjs optimizers take and give them (tfjs's own type is not re-exported by @tensorflow/tfjs). */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** The gradients of one applyGradients call, in the order tfjs optimizers index their state by. */
export interface VariableGradient {
  variable: tf.Variable;
  gradient: GradientValues | undefined;
}

export function gradientList(variableGradients: tf.NamedTensorMap | NamedTensor[]): VariableGradient[] {
  const entries: [string, tf.Tensor | undefined][] = Array.isArray(variableGradients)
    ? variableGradients.map((g) => [g.name, g.tensor])
    : Object.keys(variableGradients).map((name) => [name, variableGradients[name]]);
  return entries.map(([name, gradient]) => {
    const variable = tf.engine().registeredVariables[name];
    if (!variable) throw new Error(`no variable named ${name} is registered`);
    return { variable, gradient: gradient ?? undefined };
  });
}
