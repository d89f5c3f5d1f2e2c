import { describe, expect, it } from 'vitest';
import { ValidationError } from '@mlpipe/common';
import { inferenceOutputs, validateDigitRequest, type TensorRequest } from '../src/core/oip';
import { encodeRestResponse, parseRestInferRequest, wantsBinary } from '../src/core/oipRest';
import { decodeRawTensor, encodeRawTensor } from '../src/core/oipTensors';

const pixels = Array.from({ length: 784 }, (_, i) => (i % 256) / 255);
const json = (body: unknown) => Buffer.from(JSON.stringify(body));
/** A Triton-style binary request: JSON header, then the raw bytes; the header length as the client sends it. */
const binaryBody = (header: unknown, ...raw: Uint8Array[]) => {
  const head = json(header);
  return { body: Buffer.concat([head, ...raw]), headerLength: String(head.length) };
};
const rejects = (fn: () => unknown, message: RegExp) => {
  expect(fn).toThrow(ValidationError);
  expect(fn).toThrow(message);
};

describe('OIP tensors: raw little-endian bytes', () => {
  it('round-trips every numeric datatype and fixes the byte order', () => {
    for (const [datatype, data] of [
      ['FP32', [0.5, -2, 3.25]],
      ['FP64', [Math.PI, -1e-300]],
      ['UINT8', [0, 7, 255]],
      ['INT64', [-3, 2 ** 40]],
      ['INT32', [-1, 5]],
      ['UINT16', [65535, 1]],
      ['BOOL', [1, 0]],
    ] as const) {
      expect(decodeRawTensor(datatype, encodeRawTensor(datatype, data))).toEqual(data);
    }
    expect([...encodeRawTensor('INT32', [1])]).toEqual([1, 0, 0, 0]);
    expect([...encodeRawTensor('FP32', [1])]).toEqual([0, 0, 0x80, 0x3f]);
  });

  it('refuses bytes that are not a whole number of elements, and datatypes with no fixed size', () => {
    rejects(() => decodeRawTensor('FP32', new Uint8Array(6)), /6 bytes is not a whole number of FP32/);
    rejects(() => decodeRawTensor('BYTES', new Uint8Array(4)), /BYTES cannot be read/);
  });
});

describe('OIP request validation against the digit model signature', () => {
  const request = (
    input: Partial<TensorRequest['inputs'][number]>,
    rest: Partial<TensorRequest> = {},
  ): TensorRequest => ({
    inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 28, 28], data: pixels, ...input }],
    ...rest,
  });

  it('takes the metadata layout and its equivalents, flat or nested', () => {
    const nested = Array.from({ length: 28 }, (_, r) => pixels.slice(r * 28, (r + 1) * 28));
    for (const input of [
      { shape: [1, 784] },
      { shape: [784] },
      { shape: [1, 28, 28, 1] },
      { shape: [1, 28, 28], data: [nested] },
    ]) {
      expect(validateDigitRequest(request(input)).values[0]).toEqual(pixels);
    }
    expect(validateDigitRequest(request({})).outputs.map((o) => o.name)).toEqual(['probabilities', 'class']);
  });

  it('names what is wrong', () => {
    rejects(() => validateDigitRequest(request({ name: 'nope' })), /unknown input "nope".*"image"/);
    rejects(() => validateDigitRequest(request({ datatype: 'INT32' })), /datatype INT32 is not supported/);
    rejects(() => validateDigitRequest(request({ shape: [2, 392] })), /expected \[N,28,28\]/);
    rejects(() => validateDigitRequest(request({ shape: [0, 28, 28], data: [] })), /batch of 0/);
    rejects(
      () => validateDigitRequest(request({ data: pixels.slice(1) })),
      /holds 783 values; shape \[1,28,28\] needs 784/,
    );
    rejects(() => validateDigitRequest(request({ data: ['a', ...pixels.slice(1)] })), /numbers only/);
    rejects(() => validateDigitRequest(request({ datatype: 'UINT8', data: pixels })), /whole numbers 0-255/);
    rejects(() => validateDigitRequest(request({ data: undefined })), /has no data/);
    rejects(() => validateDigitRequest({ inputs: [] }), /exactly one input/);
    rejects(
      () => validateDigitRequest(request({}, { outputs: [{ name: 'logits' }] })),
      /unknown output "logits"/,
    );
    rejects(
      () => validateDigitRequest(request({}, { outputs: [{ name: 'class' }, { name: 'class' }] })),
      /requested twice/,
    );
  });

  it('keeps the requested outputs in the order asked', () => {
    const inference = validateDigitRequest(
      request({}, { outputs: [{ name: 'class' }, { name: 'probabilities' }] }),
    );
    const probabilities = [Array.from({ length: 10 }, (_, i) => (i === 3 ? 0.91 : 0.01))];
    expect(
      inferenceOutputs(probabilities, inference.outputs).map((o) => [o.name, o.shape, o.datatype]),
    ).toEqual([
      ['class', [1], 'INT64'],
      ['probabilities', [1, 10], 'FP32'],
    ]);
  });
});

describe('OIP REST framing: JSON and the binary tensor data extension', () => {
  const header = {
    inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 784], parameters: { binary_data_size: 784 * 4 } }],
  };

  it('splits a JSON header from the raw input bytes', () => {
    const { body, headerLength } = binaryBody(header, encodeRawTensor('FP32', pixels));
    const request = parseRestInferRequest(body, headerLength);
    expect(request.inputs[0]?.raw?.byteLength).toBe(784 * 4);
    expect(validateDigitRequest(request).values[0]).toEqual(pixels.map((p) => Math.fround(p)));
  });

  it('refuses a body that does not add up', () => {
    const raw = encodeRawTensor('FP32', pixels);
    rejects(
      () =>
        parseRestInferRequest(
          binaryBody(header, raw.subarray(4)).body,
          binaryBody(header, raw.subarray(4)).headerLength,
        ),
      /only 3132 follow/,
    );
    const extra = binaryBody(header, raw, new Uint8Array(3));
    rejects(
      () => parseRestInferRequest(extra.body, extra.headerLength),
      /3139 bytes follow the JSON header, but the inputs' binary_data_size add up to 3136/,
    );
    rejects(() => parseRestInferRequest(json(header), undefined), /no Inference-Header-Content-Length/);
    rejects(() => parseRestInferRequest(json({}), '999'), /body has only 2 bytes/);
    rejects(() => parseRestInferRequest(json({}), 'abc'), /not a byte count/);
    const sized = binaryBody({ inputs: [{ ...header.inputs[0], parameters: { binary_data_size: -4 } }] });
    rejects(
      () => parseRestInferRequest(sized.body, sized.headerLength),
      /binary_data_size must be a whole number/,
    );
  });

  it('says malformed JSON is malformed JSON, and names missing or unknown fields', () => {
    rejects(() => parseRestInferRequest(Buffer.from('{"inputs": ['), undefined), /^malformed JSON/);
    rejects(() => parseRestInferRequest(Buffer.alloc(0), undefined), /^malformed JSON/);
    rejects(() => parseRestInferRequest(json({ id: '1' }), undefined), /inputs: inputs is required/);
    rejects(() => parseRestInferRequest(json([1]), undefined), /must be a JSON object/);
    rejects(() => parseRestInferRequest(json({ inputs: [], extra: 1 }), undefined), /extra/);
    rejects(
      () => parseRestInferRequest(json({ inputs: [], parameters: { nested: { a: 1 } } }), undefined),
      /parameters\.nested/,
    );
    rejects(
      () => parseRestInferRequest(json({ inputs: [], parameters: { binary_data_output: 'yes' } }), undefined),
      /binary_data_output must be true or false/,
    );
  });

  it('answers binary outputs after the JSON header, the output flag winning over the request flag', () => {
    const request: TensorRequest = {
      parameters: { binary_data_output: true },
      inputs: [],
      outputs: [{ name: 'probabilities', parameters: { binary_data: false } }, { name: 'class' }],
    };
    expect(wantsBinary(request, 'probabilities')).toBe(false);
    expect(wantsBinary(request, 'class')).toBe(true);
    const outputs = inferenceOutputs(
      [[0.1, 0.9, 0, 0, 0, 0, 0, 0, 0, 0]],
      [{ name: 'probabilities' }, { name: 'class' }],
    );
    const encoded = encodeRestResponse(
      { model_name: 'm', model_version: '1', parameters: {}, outputs },
      request,
    );
    if (encoded.kind !== 'binary') throw new Error('expected a binary answer');
    const head = JSON.parse(encoded.body.subarray(0, encoded.headerLength).toString());
    expect(head.outputs[0].data).toHaveLength(10);
    expect(head.outputs[1]).toEqual({
      name: 'class',
      datatype: 'INT64',
      shape: [1],
      parameters: { binary_data_size: 8 },
    });
    expect(decodeRawTensor('INT64', encoded.body.subarray(encoded.headerLength))).toEqual([1]);
    expect(
      encodeRestResponse({ model_name: 'm', model_version: '1', parameters: {}, outputs }, { inputs: [] })
        .kind,
    ).toBe('json');
  });
});
