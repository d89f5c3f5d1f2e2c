import * as tf from '@tensorflow/tfjs';
import { GraphBuilder } from './graph';

/**
 * What an exported model takes and gives, named like the gateway's Open Inference Protocol
 * metadata: `image` is float32 NHWC [N,28,28,1] in [0,1] (exactly the tensor the gateway feeds
 * tfjs), `probabilities` is float32 [N,10]. The layout conversion to ONNX's NCHW happens inside
 * the graph, so a client sends the same bytes to tfjs, onnxruntime, Triton or KServe.
 */
export const ONNX_INPUT = 'image';
export const ONNX_OUTPUT = 'probabilities';
export const ONNX_BATCH_DIM = 'N';

/** A layer (or option of one) the exporter has no ONNX translation for; the message names it. */
export class UnsupportedLayerError extends Error {
  override readonly name = 'UnsupportedLayerError';
}

/** Where the value flowing through the chain stands: a feature map (in either layout) or a flat batch of vectors. */
interface Flow {
  value: string;
  layout: 'NHWC' | 'NCHW' | 'flat';
}

type Config = Record<string, unknown>;

/**
 * Writes a sequential tfjs layers model as an ONNX model (opset 13). Feature maps run in NCHW,
 * as ONNX's Conv and pooling want: the input is transposed once, and transposed back before a
 * Flatten so the flattened order (and hence the Dense weights) stays tfjs's H,W,C order.
 * Dropout is the identity at inference and writes nothing.
 */
export function exportOnnx(model: tf.LayersModel): Uint8Array {
  const inputShape = model.inputs[0]?.shape;
  if (model.inputs.length !== 1 || model.outputs.length !== 1 || !inputShape) throw new UnsupportedLayerError('only single-input, single-output models can be exported');
  if (inputShape.length !== 2 && inputShape.length !== 4) throw new UnsupportedLayerError(`the model takes rank-${inputShape.length} input; only images [N,H,W,C] and vectors [N,D] can be exported`);
  const g = new GraphBuilder();
  let flow: Flow = { value: ONNX_INPUT, layout: inputShape.length === 4 ? 'NHWC' : 'flat' };
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  requireChain(model, layers);
  for (const layer of layers) flow = exportLayer(g, layer, flow);
  // A model ending on a feature map answers in tfjs's NHWC, like its input.
  g.op('Identity', [toLayout(g, flow, 'NHWC').value], {}, ONNX_OUTPUT);
  const outputShape = model.outputs[0]!.shape;
  return g.encode(
    { name: ONNX_INPUT, shape: [ONNX_BATCH_DIM, ...inputShape.slice(1).map(Number)] },
    { name: ONNX_OUTPUT, shape: [ONNX_BATCH_DIM, ...outputShape.slice(1).map(Number)] },
    model.name,
  );
}

/** The exporter follows model.layers in order, which is the graph only when each layer feeds the next. */
function requireChain(model: tf.LayersModel, layers: tf.layers.Layer[]): void {
  let previous: tf.SymbolicTensor[] = model.inputs;
  for (const layer of layers) {
    const input = layer.input;
    const inputs = Array.isArray(input) ? input : [input];
    if (inputs.length !== 1 || !previous.includes(inputs[0]!)) throw new UnsupportedLayerError(`layer ${layer.name} does not take the previous layer's output: only chains of layers can be exported`);
    const output = layer.output;
    previous = Array.isArray(output) ? output : [output];
  }
}

function exportLayer(g: GraphBuilder, layer: tf.layers.Layer, flow: Flow): Flow {
  const cfg = layer.getConfig() as Config;
  switch (layer.getClassName()) {
    case 'Conv2D':
      return activate(g, layer.name, conv2d(g, layer, cfg, flow), cfg.activation);
    case 'MaxPooling2D':
    case 'AveragePooling2D':
      return pool(g, layer, cfg, flow);
    case 'Dense':
      return activate(g, layer.name, dense(g, layer, flow), cfg.activation);
    case 'Activation':
      return activate(g, layer.name, flow, cfg.activation, true);
    case 'BatchNormalization':
      return batchNorm(g, layer, cfg, flow);
    case 'Flatten':
      return { value: g.op('Flatten', [toLayout(g, flow, 'NHWC').value], { axis: 1 }), layout: 'flat' };
    case 'Reshape':
      return reshape(g, cfg, flow);
    case 'Dropout':
    case 'SpatialDropout1D':
    case 'GaussianNoise':
    case 'GaussianDropout':
    case 'AlphaDropout':
      // Training-time regularisers: the identity at inference.
      return flow;
    default:
      throw new UnsupportedLayerError(`layer ${layer.name} (${layer.getClassName()}) has no ONNX translation in this exporter`);
  }
}

function conv2d(g: GraphBuilder, layer: tf.layers.Layer, cfg: Config, flow: Flow): Flow {
  requireChannelsLast(layer, cfg);
  const [kernel, bias] = layer.getWeights();
  // tfjs keeps a kernel as [kh, kw, in, out]; ONNX wants [out, in, kh, kw].
  const w = tf.tidy(() => tf.transpose(kernel!, [3, 2, 0, 1]));
  const weights = g.constant(`${layer.name}/kernel`, w.shape, w.dataSync() as Float32Array);
  w.dispose();
  const inputs = [toLayout(g, flow, 'NCHW').value, weights];
  if (bias) inputs.push(g.constant(`${layer.name}/bias`, bias.shape, bias.dataSync() as Float32Array));
  const value = g.op('Conv', inputs, {
    kernel_shape: ints(cfg.kernelSize, 2),
    strides: ints(cfg.strides, 2),
    dilations: ints(cfg.dilationRate, 2),
    ...padding(layer, cfg),
  });
  return { value, layout: 'NCHW' };
}

function pool(g: GraphBuilder, layer: tf.layers.Layer, cfg: Config, flow: Flow): Flow {
  requireChannelsLast(layer, cfg);
  const kernel = ints(cfg.poolSize, 2);
  const op = layer.getClassName() === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool';
  // tfjs's average pooling leaves the padding out of the mean: ONNX's count_include_pad = 0 (its default) does the same.
  const value = g.op(op, [toLayout(g, flow, 'NCHW').value], { kernel_shape: kernel, strides: cfg.strides == null ? kernel : ints(cfg.strides, 2), ...padding(layer, cfg) });
  return { value, layout: 'NCHW' };
}

function dense(g: GraphBuilder, layer: tf.layers.Layer, flow: Flow): Flow {
  if (flow.layout !== 'flat') throw new UnsupportedLayerError(`layer ${layer.name} (Dense) applies to a feature map: flatten first`);
  const [kernel, bias] = layer.getWeights();
  // tfjs's Dense kernel is [in, out], which is Gemm's B without transposition.
  const weights = g.constant(`${layer.name}/kernel`, kernel!.shape, kernel!.dataSync() as Float32Array);
  const value = bias
    ? g.op('Gemm', [flow.value, weights, g.constant(`${layer.name}/bias`, bias.shape, bias.dataSync() as Float32Array)])
    : g.op('MatMul', [flow.value, weights]);
  return { value, layout: 'flat' };
}

function batchNorm(g: GraphBuilder, layer: tf.layers.Layer, cfg: Config, flow: Flow): Flow {
  const axis = Number(cfg.axis);
  const channelsAxis = flow.layout === 'flat' ? 1 : 3;
  if (axis !== -1 && axis !== channelsAxis) throw new UnsupportedLayerError(`layer ${layer.name} (BatchNormalization) normalises axis ${axis}; only the channel axis can be exported`);
  const values = layer.getWeights();
  // gamma and beta are absent when the layer does not scale or centre: 1 and 0 stand in for them.
  const weights = new Map(layer.weights.map((w, i) => [w.originalName.split('/').pop(), values[i]!]));
  const channels = weights.get('moving_mean')!.shape[0]!;
  const tensor = (name: string, fallback: number) => {
    const t = weights.get(name);
    return g.constant(`${layer.name}/${name}`, [channels], t ? (t.dataSync() as Float32Array) : new Float32Array(channels).fill(fallback));
  };
  const inputs = [toLayout(g, flow, flow.layout === 'flat' ? 'flat' : 'NCHW').value, tensor('gamma', 1), tensor('beta', 0), tensor('moving_mean', 0), tensor('moving_variance', 1)];
  const value = g.op('BatchNormalization', inputs, { epsilon: { float: Number(cfg.epsilon) } });
  return { value, layout: flow.layout === 'flat' ? 'flat' : 'NCHW' };
}

/** Reshape works on tfjs's element order, so a feature map goes back to NHWC first. */
function reshape(g: GraphBuilder, cfg: Config, flow: Flow): Flow {
  const target = (cfg.targetShape as number[]).map(Number);
  if (target.length !== 1 && target.length !== 3) throw new UnsupportedLayerError(`a Reshape to rank ${target.length + 1} has no ONNX translation in this exporter`);
  const shape = g.int64s('reshape/shape', [0, ...target]);
  return { value: g.op('Reshape', [toLayout(g, flow, 'NHWC').value, shape]), layout: target.length === 1 ? 'flat' : 'NHWC' };
}

/** Adds the layer's activation; a Softmax over a feature map runs over the channels, where tfjs's last axis is. */
function activate(g: GraphBuilder, layerName: string, flow: Flow, activation: unknown, standalone = false): Flow {
  const inputs = [flow.value];
  const channelsAxis = flow.layout === 'NCHW' ? 1 : -1;
  const one = (op: string, attrs: Record<string, number> = {}): Flow => ({ value: g.op(op, inputs, attrs), layout: flow.layout });
  switch (activation ?? 'linear') {
    case 'linear':
      return flow;
    case 'relu':
      return one('Relu');
    case 'sigmoid':
      return one('Sigmoid');
    case 'tanh':
      return one('Tanh');
    case 'softmax':
      return one('Softmax', { axis: channelsAxis });
    default:
      throw new UnsupportedLayerError(`${standalone ? 'activation layer' : 'layer'} ${layerName} uses activation ${String(activation)}, which has no ONNX translation in this exporter`);
  }
}

/** Moves a feature map into the wanted layout (a no-op when it is already there). */
function toLayout(g: GraphBuilder, flow: Flow, want: Flow['layout']): Flow {
  if (flow.layout === want || flow.layout === 'flat' || want === 'flat') return flow;
  const perm = want === 'NCHW' ? [0, 3, 1, 2] : [0, 2, 3, 1];
  return { value: g.op('Transpose', [flow.value], { perm }), layout: want };
}

/** tfjs's 'same' puts the odd padding pixel at the end, which is ONNX's SAME_UPPER. */
function padding(layer: tf.layers.Layer, cfg: Config): Record<string, string | number[]> {
  if (cfg.padding === 'valid') return { pads: [0, 0, 0, 0] };
  if (cfg.padding === 'same') return { auto_pad: 'SAME_UPPER' };
  throw new UnsupportedLayerError(`layer ${layer.name} uses padding ${String(cfg.padding)}, which has no ONNX translation in this exporter`);
}

function requireChannelsLast(layer: tf.layers.Layer, cfg: Config): void {
  if (cfg.dataFormat !== undefined && cfg.dataFormat !== 'channelsLast') throw new UnsupportedLayerError(`layer ${layer.name} is channelsFirst; the exporter reads tfjs's default channelsLast`);
}

/** A tfjs size option (a number or a list) as ONNX's list of ints. */
function ints(v: unknown, rank: number): number[] {
  const list = Array.isArray(v) ? v.map(Number) : Array.from({ length: rank }, () => Number(v ?? 1));
  if (list.length !== rank || list.some((n) => !Number.isInteger(n))) throw new UnsupportedLayerError(`expected ${rank} integer sizes, got ${JSON.stringify(v)}`);
  return list;
}
