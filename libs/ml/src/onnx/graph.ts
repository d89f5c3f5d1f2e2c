import onnxProto from 'onnx-proto';

// onnx-proto is CommonJS: its namespace comes through the default export under ESM.
export const { onnx } = onnxProto;

/** The opset the exporter writes: 13 gives Softmax over the last axis and is read by every current runtime. */
export const ONNX_OPSET = 13;
/** IR version 7 goes with opset 13. */
const IR_VERSION = 7;

/** An ONNX attribute: an integer, a list of integers, text, or a float spelt `{ float }` (so 1.0 is not taken for an int). */
type Attribute = number | number[] | string | { float: number };

/**
 * Collects the nodes and initialisers of one graph and names intermediate values, so the exporter
 * only says which operator follows which. Names are unique per builder.
 */
export class GraphBuilder {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private count = 0;

  /** A fresh value name with a readable stem (e.g. `conv2d_1/Conv_3`). */
  name(stem: string): string {
    return `${stem}_${++this.count}`;
  }

  /** A float32 constant (weights, biases) and its name. */
  constant(stem: string, dims: readonly number[], values: Float32Array): string {
    const name = this.name(stem);
    this.initializers.push(onnx.TensorProto.create({ name, dims: [...dims], dataType: onnx.TensorProto.DataType.FLOAT, rawData: bytesOf(values) }));
    return name;
  }

  /** An int64 constant (shapes for Reshape). */
  int64s(stem: string, values: readonly number[]): string {
    const name = this.name(stem);
    this.initializers.push(onnx.TensorProto.create({ name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: [...values] }));
    return name;
  }

  /** Appends one operator and returns the name of its (single) output. */
  op(opType: string, inputs: string[], attributes: Record<string, Attribute> = {}, output = this.name(opType)): string {
    this.nodes.push(
      onnx.NodeProto.create({ opType, input: inputs, output: [output], name: this.name(`${opType}_node`), attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)) }),
    );
    return output;
  }

  /** The serialised model: one float input with a symbolic batch dimension, one float output. */
  encode(input: { name: string; shape: (number | string)[] }, output: { name: string; shape: (number | string)[] }, graphName: string): Uint8Array {
    const graph = onnx.GraphProto.create({ name: graphName, node: this.nodes, initializer: this.initializers, input: [valueInfo(input)], output: [valueInfo(output)] });
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      producerName: 'mlpipe',
      graph,
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

/** A copy of the values' bytes (little-endian, as ONNX's raw_data): a backend may reuse the array after its tensor is disposed. */
function bytesOf(values: Float32Array): Uint8Array {
  const copy = values.slice();
  return new Uint8Array(copy.buffer, copy.byteOffset, copy.byteLength);
}

function attribute(name: string, v: Attribute): InstanceType<typeof onnx.AttributeProto> {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(v) });
  if (typeof v === 'object' && !Array.isArray(v)) return onnx.AttributeProto.create({ name, type: T.FLOAT, f: v.float });
  if (Array.isArray(v)) return onnx.AttributeProto.create({ name, type: T.INTS, ints: v });
  return onnx.AttributeProto.create({ name, type: T.INT, i: v });
}

function valueInfo(v: { name: string; shape: (number | string)[] }): InstanceType<typeof onnx.ValueInfoProto> {
  const dim = v.shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d }));
  return onnx.ValueInfoProto.create({ name: v.name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim } } } });
}
