import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { createModel, evaluateModel, initBackend, trainModel, PIXELS } from '@mlpipe/ml';
import { parseIdx, readSeedFile } from '@mlpipe/dataset';
import { startLiveRegistry, type LiveRegistry } from '@mlpipe/testing';
import { startRegistry, type RunningRegistry } from '@mlpipe/registry/service';
import { startGateway, type RunningGateway } from '../src/service';
import { buildEdge } from '../src/edge';
import { ReplicaPool } from '../src/adapters/replicaPool';
import { decodeRawTensor, encodeRawTensor } from '../src/core/oipTensors';

/**
 * Open Inference Protocol v2 REST conformance (../shared/crds/kserve/open-inference-protocol/rest_predict_v2.yaml),
 * tried as a KServe/Triton client would: read the metadata, build requests from it, and check every
 * route, error case and status code, JSON and the binary tensor data extension, against a real
 * gateway serving a real model from a real registry (NATS, PostgreSQL, store).
 */
const logger = createLogger('oip-conformance', 'silent');
const images = parseIdx(readSeedFile('mnist', 't10k-images-idx3-ubyte')).data;
const labels = parseIdx(readSeedFile('mnist', 't10k-labels-idx1-ubyte')).data;
const sample = (i: number) => Array.from(images.subarray(i * PIXELS, (i + 1) * PIXELS));
const unit = (i: number) => sample(i).map((v) => v / 255);

interface Tensor {
  name: string;
  datatype: string;
  shape: number[];
  data?: number[];
  parameters?: Record<string, unknown>;
}

describe('Open Inference Protocol v2 REST conformance', () => {
  let live: LiveRegistry<RunningRegistry>;
  let gateway: RunningGateway;
  let baseUrl: string;

  const call = (method: 'GET' | 'POST', url: string, payload?: unknown, headers?: Record<string, string>) =>
    gateway.app.inject({
      method,
      url,
      ...(payload !== undefined ? { payload: payload as string } : {}),
      ...(headers ? { headers } : {}),
    });
  /** A binary-extension body as Triton's HTTP client sends it: the JSON header, then the raw tensors. */
  const binaryRequest = (header: unknown, ...raw: Uint8Array[]) => {
    const head = Buffer.from(JSON.stringify(header));
    return {
      body: Buffer.concat([head, ...raw]),
      headers: {
        'content-type': 'application/octet-stream',
        'inference-header-content-length': String(head.length),
      },
    };
  };
  /** Splits a binary answer into its JSON header and the raw bytes after it. */
  const splitBinary = (body: Buffer, headerLength: string | undefined) => {
    expect(headerLength, 'Inference-Header-Content-Length on a binary answer').toMatch(/^\d+$/);
    const n = Number(headerLength);
    return {
      header: JSON.parse(body.subarray(0, n).toString()) as { outputs: Tensor[]; model_name: string },
      raw: body.subarray(n),
    };
  };

  beforeAll(async () => {
    await initBackend('wasm');
    live = await startLiveRegistry(startRegistry);
    gateway = startGateway({
      registryUrl: live.url,
      bus: live.bus,
      logger,
      metrics: createMetricsRegistry('oip'),
    });
    const model = createModel('cnn-small', { seed: 3 });
    await trainModel(
      model,
      {
        train: {
          images: images.slice(2000 * PIXELS, 4000 * PIXELS),
          labels: labels.slice(2000, 4000),
          count: 2000,
        },
      },
      { epochs: 2, batchSize: 32, seed: 3 },
    );
    await live.publishModel(
      'job-oip',
      model,
      evaluateModel(model, {
        images: images.subarray(0, 300 * PIXELS),
        labels: labels.subarray(0, 300),
        count: 300,
      }),
    );
    model.dispose();
    await live.waitForChampion();
    baseUrl = await gateway.app.listen({ port: 0, host: '127.0.0.1' });
  }, 120_000);

  afterAll(async () => {
    await gateway?.app.close();
    await gateway?.stop();
    await live?.close();
  });

  it('answers the server routes with and without the trailing slash the spec writes', async () => {
    for (const url of ['/v2', '/v2/']) {
      const res = await call('GET', url);
      expect(res.statusCode, url).toBe(200);
      expect(res.json(), url).toEqual({
        name: 'mlpipe-gateway',
        version: expect.any(String),
        extensions: expect.arrayContaining(['binary_tensor_data']),
      });
    }
    for (const url of ['/v2/health/live', '/v2/health/live/'])
      expect((await call('GET', url)).json(), url).toEqual({ live: true });
    for (const url of ['/v2/health/ready', '/v2/health/ready/']) {
      const res = await call('GET', url);
      expect([res.statusCode, res.json()], url).toEqual([200, { ready: true }]);
    }
  });

  it('describes the model by name and by version; unknown models and versions are 404 with { error }', async () => {
    const expected = {
      name: 'mnist',
      platform: 'tensorflowjs',
      inputs: [{ name: 'image', datatype: 'FP32', shape: [-1, 28, 28] }],
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 10] },
        { name: 'class', datatype: 'INT64', shape: [-1] },
      ],
    };
    for (const url of [
      '/v2/models/mnist',
      '/v2/models/mnist/',
      '/v2/models/mnist/versions/1',
      '/v2/models/mnist/versions/1/',
    ]) {
      const res = await call('GET', url);
      expect(res.statusCode, url).toBe(200);
      expect(res.json(), url).toEqual({ ...expected, versions: ['1'] });
    }
    for (const url of [
      '/v2/models/ghost',
      '/v2/models/mnist/versions/9',
      '/v2/models/ghost/ready',
      '/v2/models/mnist/versions/9/ready',
    ]) {
      const res = await call('GET', url);
      expect(res.statusCode, url).toBe(404);
      expect(typeof res.json().error, url).toBe('string');
    }
  });

  it('says a model is ready, and 503 for the server, the model and inference while the gateway is not', async () => {
    for (const url of [
      '/v2/models/mnist/ready',
      '/v2/models/mnist/ready/',
      '/v2/models/mnist/versions/1/ready',
      '/v2/models/mnist/versions/1/ready/',
    ]) {
      const res = await call('GET', url);
      expect([res.statusCode, res.json()], url).toEqual([200, { name: 'mnist', ready: true }]);
    }
    gateway.setReady(false);
    try {
      expect((await call('GET', '/v2/health/ready')).statusCode).toBe(503);
      const model = await call('GET', '/v2/models/mnist/ready');
      expect([model.statusCode, typeof model.json().error]).toEqual([503, 'string']);
      const infer = await call('POST', '/v2/models/mnist/infer', {
        inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 28, 28], data: unit(0) }],
      });
      expect(infer.statusCode).toBe(503);
      expect(infer.json().error).toMatch(/not ready/);
    } finally {
      gateway.setReady(true);
    }
    expect((await call('GET', '/v2/health/ready')).statusCode).toBe(200);
  });

  it('infers from a request built from the metadata, on every inference route', async () => {
    const meta = (await call('GET', '/v2/models/mnist')).json() as { inputs: Tensor[] };
    const input = meta.inputs[0] as Tensor;
    const request = {
      id: 'req-7',
      inputs: [
        {
          name: input.name,
          datatype: input.datatype,
          shape: input.shape.map((d) => (d === -1 ? 3 : d)),
          data: [...unit(0), ...unit(1), ...unit(2)],
        },
      ],
    };
    const answers = [];
    for (const url of [
      '/v2/models/mnist/infer',
      '/v2/models/mnist/infer/',
      '/v2/models/mnist/versions/1/infer',
      '/v2/models/mnist/versions/1/infer/',
    ]) {
      const res = await call('POST', url, request);
      expect(res.statusCode, url).toBe(200);
      const body = res.json();
      expect(body, url).toMatchObject({
        model_name: 'mnist',
        model_version: '1',
        id: 'req-7',
        parameters: { variant: expect.any(String), prediction_ids: expect.any(String) },
      });
      expect(
        body.outputs.map((o: Tensor) => [o.name, o.datatype, o.shape]),
        url,
      ).toEqual([
        ['probabilities', 'FP32', [3, 10]],
        ['class', 'INT64', [3]],
      ]);
      expect(body.outputs[1].data, url).toEqual([labels[0], labels[1], labels[2]]);
      answers.push(body.outputs[0].data);
    }
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    // The other layouts of the same pixels: nested rows, [N,784], [N,28,28,1], one image as [784], and MNIST's own bytes.
    const nested = Array.from({ length: 28 }, (_, r) => unit(4).slice(r * 28, (r + 1) * 28));
    for (const tensor of [
      { datatype: 'FP32', shape: [1, 28, 28], data: [nested] },
      { datatype: 'FP64', shape: [1, 784], data: unit(4) },
      { datatype: 'FP32', shape: [1, 28, 28, 1], data: unit(4) },
      { datatype: 'UINT8', shape: [784], data: sample(4) },
    ]) {
      const res = await call('POST', '/v2/models/mnist/infer', { inputs: [{ name: 'image', ...tensor }] });
      expect(res.statusCode, JSON.stringify(tensor.shape)).toBe(200);
      expect(res.json().outputs[1].data).toEqual([labels[4]]);
    }
  });

  it('returns only the outputs asked for, in the order asked, and refuses unknown ones', async () => {
    const inputs = [{ name: 'image', datatype: 'FP32', shape: [2, 28, 28], data: [...unit(5), ...unit(6)] }];
    const only = (
      await call('POST', '/v2/models/mnist/infer', { inputs, outputs: [{ name: 'class' }] })
    ).json();
    expect(only.outputs).toEqual([
      { name: 'class', datatype: 'INT64', shape: [2], data: [labels[5], labels[6]] },
    ]);
    const probabilities = (
      await call('POST', '/v2/models/mnist/infer', { inputs, outputs: [{ name: 'probabilities' }] })
    ).json();
    expect(probabilities.outputs.map((o: Tensor) => o.name)).toEqual(['probabilities']);
    const both = (
      await call('POST', '/v2/models/mnist/infer', {
        inputs,
        outputs: [{ name: 'class' }, { name: 'probabilities' }],
      })
    ).json();
    expect(both.outputs.map((o: Tensor) => o.name)).toEqual(['class', 'probabilities']);
    const unknown = await call('POST', '/v2/models/mnist/infer', {
      inputs,
      outputs: [{ name: 'class' }, { name: 'logits' }],
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error).toMatch(/unknown output "logits"/);
  });

  it('answers every malformed request with 400 and { "error": reason }', async () => {
    const image = (over: Record<string, unknown>) => ({
      inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 28, 28], data: unit(0), ...over }],
    });
    const json = { 'content-type': 'application/json' };
    const cases: [string, string | object, RegExp, Record<string, string>?][] = [
      ['wrong input name', image({ name: 'nope' }), /unknown input "nope".*"image"/],
      ['wrong datatype', image({ datatype: 'INT32' }), /datatype INT32 is not supported/],
      ['string datatype', image({ datatype: 'BYTES' }), /datatype BYTES is not supported/],
      [
        'wrong shape',
        image({ shape: [1, 27, 27], data: Array(729).fill(0) }),
        /shape \[1,27,27\]; expected \[N,28,28\]/,
      ],
      [
        'wrong element count',
        image({ data: unit(0).slice(0, 700) }),
        /holds 700 values; shape \[1,28,28\] needs 784/,
      ],
      ['too many elements', image({ data: [...unit(0), 0] }), /holds 785 values/],
      ['string data', image({ data: [...unit(0).slice(1), 'NaN'] }), /numbers only/],
      ['values out of range', image({ data: [...unit(0).slice(1), 7] }), /must lie in \[0, 1\]/],
      ['empty inputs', { inputs: [] }, /exactly one input/],
      ['missing inputs', { id: 'x' }, /inputs is required/],
      ['two inputs', { inputs: [...image({}).inputs, ...image({}).inputs] }, /exactly one input/],
      ['missing data', image({ data: undefined }), /has no data/],
      ['unknown field', { ...image({}), extra: true }, /extra/],
      ['malformed JSON', '{"inputs": [', /^malformed JSON/, json],
      ['malformed JSON, no content type', '{"inputs": [', /^malformed JSON/, {}],
      [
        'curl form content type',
        'inputs=1',
        /^malformed JSON/,
        { 'content-type': 'application/x-www-form-urlencoded' },
      ],
      ['empty body', '', /^malformed JSON/, json],
      ['not an object', '[1,2]', /must be a JSON object/, json],
      ['non-scalar parameter', { ...image({}), parameters: { nested: { a: 1 } } }, /parameters\.nested/],
      [
        'binary flag not boolean',
        { ...image({}), parameters: { binary_data_output: 'yes' } },
        /binary_data_output must be true or false/,
      ],
      [
        'binary size without the header',
        image({ data: undefined, parameters: { binary_data_size: 3136 } }),
        /no Inference-Header-Content-Length/,
      ],
    ];
    for (const [what, payload, message, headers] of cases) {
      const res = await call(
        'POST',
        '/v2/models/mnist/infer',
        typeof payload === 'string' ? payload : JSON.stringify(payload),
        headers ?? json,
      );
      expect(res.statusCode, what).toBe(400);
      expect(res.headers['content-type'], what).toMatch(/application\/json/);
      expect(res.json().error, what).toMatch(message);
    }
    const badName = await call('POST', '/v2/models/..%2Fx/infer', image({}));
    expect([badName.statusCode, badName.json().error]).toEqual([400, expect.stringMatching(/model names/)]);
    const unknownModel = await call('POST', '/v2/models/ghost/infer', image({}));
    expect([unknownModel.statusCode, unknownModel.json().error]).toEqual([
      404,
      expect.stringMatching(/ghost/),
    ]);
    const unknownVersion = await call('POST', '/v2/models/mnist/versions/9/infer', image({}));
    expect([unknownVersion.statusCode, unknownVersion.json().error]).toEqual([
      404,
      expect.stringMatching(/no version 9/),
    ]);
  });

  it('accepts the optional parameters, per request and per tensor, and echoes the id', async () => {
    const res = await call('POST', '/v2/models/mnist/infer', {
      id: 'with-parameters',
      parameters: { priority: 2, tag: 'conformance', binary_data_output: false },
      inputs: [
        {
          name: 'image',
          datatype: 'FP32',
          shape: [1, 784],
          data: unit(7),
          parameters: { content_type: 'pixels' },
        },
      ],
      outputs: [{ name: 'class', parameters: { binary_data: false } }],
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      id: 'with-parameters',
      outputs: [{ name: 'class', data: [labels[7]] }],
      parameters: { variant: 'champion' },
    });
    expect(res.headers['inference-header-content-length']).toBeUndefined();
  });

  it('reads binary input tensors after the JSON header (FP32 and UINT8) and answers as for JSON', async () => {
    const asJson = (
      await call('POST', '/v2/models/mnist/infer', {
        inputs: [{ name: 'image', datatype: 'FP32', shape: [2, 28, 28], data: [...unit(8), ...unit(9)] }],
      })
    ).json();
    const fp32 = binaryRequest(
      {
        id: 'bin',
        inputs: [
          {
            name: 'image',
            datatype: 'FP32',
            shape: [2, 28, 28],
            parameters: { binary_data_size: 2 * 784 * 4 },
          },
        ],
      },
      encodeRawTensor('FP32', [...unit(8), ...unit(9)]),
    );
    const res = await call('POST', '/v2/models/mnist/infer', fp32.body, fp32.headers);
    expect(res.statusCode).toBe(200);
    expect(res.json().id).toBe('bin');
    expect(res.json().outputs[1].data).toEqual([labels[8], labels[9]]);
    // The FP32 bytes hold the same pixels as the JSON numbers up to float rounding, which the 8-bit model input absorbs.
    expect(res.json().outputs[0].data).toEqual(asJson.outputs[0].data);
    const bytes = binaryRequest(
      {
        inputs: [
          { name: 'image', datatype: 'UINT8', shape: [1, 784], parameters: { binary_data_size: 784 } },
        ],
      },
      Uint8Array.from(sample(9)),
    );
    expect(
      (await call('POST', '/v2/models/mnist/versions/1/infer/', bytes.body, bytes.headers)).json().outputs[1]
        .data,
    ).toEqual([labels[9]]);
  });

  it('refuses binary requests whose sizes do not add up', async () => {
    const header = (size: number, datatype = 'FP32') => ({
      inputs: [{ name: 'image', datatype, shape: [1, 784], parameters: { binary_data_size: size } }],
    });
    const raw = encodeRawTensor('FP32', unit(0));
    const cases: [string, ReturnType<typeof binaryRequest>, RegExp][] = [
      [
        'fewer bytes than binary_data_size',
        binaryRequest(header(3136), raw.subarray(0, 3000)),
        /wants 3136 bytes.*only 3000 follow/,
      ],
      [
        'bytes left over',
        binaryRequest(header(3136), raw, new Uint8Array(4)),
        /3140 bytes follow the JSON header.*add up to 3136/,
      ],
      [
        'size not the tensor',
        binaryRequest(header(3132), raw.subarray(0, 3132)),
        /3132 bytes of binary data; shape \[1,784\] of FP32 needs 3136/,
      ],
      [
        'both data and binary',
        binaryRequest({ inputs: [{ ...header(3136).inputs[0], data: unit(0) }] }, raw),
        /both "data" and parameters.binary_data_size/,
      ],
      [
        'string tensor in binary',
        binaryRequest(header(3136, 'BYTES'), raw),
        /datatype BYTES is not supported/,
      ],
    ];
    for (const [what, req, message] of cases) {
      const res = await call('POST', '/v2/models/mnist/infer', req.body, req.headers);
      expect(res.statusCode, what).toBe(400);
      expect(res.json().error, what).toMatch(message);
    }
    const tooLong = await call('POST', '/v2/models/mnist/infer', '{}', {
      'inference-header-content-length': '99',
    });
    expect([tooLong.statusCode, tooLong.json().error]).toEqual([
      400,
      expect.stringMatching(/Inference-Header-Content-Length is 99/),
    ]);
  });

  it('answers binary outputs when asked, whose raw bytes decode to the JSON answer', async () => {
    const data = [...unit(10), ...unit(11), ...unit(12)];
    const inputs = [{ name: 'image', datatype: 'FP32', shape: [3, 28, 28], data }];
    const asJson = (await call('POST', '/v2/models/mnist/infer', { inputs })).json() as { outputs: Tensor[] };
    // All outputs binary, over a real socket as a Triton HTTP client would read it.
    const res = await fetch(`${baseUrl}/v2/models/mnist/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs, parameters: { binary_data_output: true } }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/octet-stream/);
    const { header, raw } = splitBinary(
      Buffer.from(await res.arrayBuffer()),
      res.headers.get('inference-header-content-length') ?? undefined,
    );
    expect(header.outputs).toEqual([
      {
        name: 'probabilities',
        datatype: 'FP32',
        shape: [3, 10],
        parameters: { binary_data_size: 3 * 10 * 4 },
      },
      { name: 'class', datatype: 'INT64', shape: [3], parameters: { binary_data_size: 3 * 8 } },
    ]);
    expect(raw.length).toBe(120 + 24);
    expect(decodeRawTensor('FP32', raw.subarray(0, 120))).toEqual(asJson.outputs[0]?.data);
    expect(decodeRawTensor('INT64', raw.subarray(120))).toEqual([labels[10], labels[11], labels[12]]);

    // One output binary (its own flag wins over the request's), the other JSON; binary input and output together.
    const mixed = binaryRequest(
      {
        parameters: { binary_data_output: true },
        inputs: [
          {
            name: 'image',
            datatype: 'FP32',
            shape: [3, 28, 28],
            parameters: { binary_data_size: data.length * 4 },
          },
        ],
        outputs: [{ name: 'class' }, { name: 'probabilities', parameters: { binary_data: false } }],
      },
      encodeRawTensor('FP32', data),
    );
    const answer = await call('POST', '/v2/models/mnist/infer', mixed.body, mixed.headers);
    expect(answer.statusCode).toBe(200);
    const split = splitBinary(
      answer.rawPayload,
      answer.headers['inference-header-content-length'] as string | undefined,
    );
    expect(split.header.outputs.map((o) => [o.name, o.parameters?.binary_data_size, o.data?.length])).toEqual(
      [
        ['class', 24, undefined],
        ['probabilities', undefined, 30],
      ],
    );
    expect(decodeRawTensor('INT64', split.raw)).toEqual([labels[10], labels[11], labels[12]]);
    expect(split.header.outputs[1]?.data).toEqual(asJson.outputs[0]?.data);
  });

  it('passes the trailing slash and the binary extension through an edge in front of the replica', async () => {
    const pool = new ReplicaPool([baseUrl], 5000, 60_000);
    const edge = buildEdge({ pool, metrics: createMetricsRegistry('oip-edge'), logger, isReady: () => true });
    try {
      expect((await edge.inject({ method: 'GET', url: '/v2/' })).json()).toMatchObject({
        extensions: expect.arrayContaining(['binary_tensor_data']),
      });
      const req = binaryRequest(
        {
          inputs: [
            { name: 'image', datatype: 'UINT8', shape: [1, 784], parameters: { binary_data_size: 784 } },
          ],
          outputs: [{ name: 'class', parameters: { binary_data: true } }],
        },
        Uint8Array.from(sample(13)),
      );
      const res = await edge.inject({
        method: 'POST',
        url: '/v2/models/mnist/infer/',
        payload: req.body,
        headers: req.headers,
      });
      expect(res.statusCode).toBe(200);
      const { header, raw } = splitBinary(
        res.rawPayload,
        res.headers['inference-header-content-length'] as string | undefined,
      );
      expect(header.outputs).toEqual([
        { name: 'class', datatype: 'INT64', shape: [1], parameters: { binary_data_size: 8 } },
      ]);
      expect(decodeRawTensor('INT64', raw)).toEqual([labels[13]]);
    } finally {
      pool.stop();
      await edge.close();
    }
  });

  it('answers unknown routes and methods with 404 and { error }', async () => {
    for (const [method, url] of [
      ['GET', '/v2/models/mnist/infer'],
      ['POST', '/v2/models'],
      ['GET', '/v2/nothing'],
    ] as const) {
      const res = await call(method, url);
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(typeof res.json().error).toBe('string');
    }
  });
});
