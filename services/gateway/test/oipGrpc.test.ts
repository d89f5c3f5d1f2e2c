import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, makeGenericClientConstructor, Metadata, status, type Client, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { eventually } from '@mlpipe/common';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { createModel, initBackend, trainModel, PIXELS } from '@mlpipe/ml';
import { parseIdx, readSeedFile } from '@mlpipe/dataset';
import { startLiveRegistry, type LiveRegistry } from '@mlpipe/testing';
import { startRegistry, type RunningRegistry } from '@mlpipe/registry/service';
import { startGateway, type RunningGateway } from '../src/service';
import { grpcAuthOf } from '../src/grpcAuth';
import { buildGrpcEdge } from '../src/grpcEdge';
import { listenGrpc, type GrpcServing } from '../src/grpcServing';
import { GrpcReplicaPool } from '../src/adapters/grpcReplicaPool';
import { oipServiceDefinition } from '../src/adapters/grpcProto';
import { decodeRawTensor, encodeRawTensor } from '../src/core/oipTensors';

/**
 * Open Inference Protocol v2 gRPC conformance (proto/grpc_predict_v2.proto), with a @grpc/grpc-js
 * client against a real gateway serving a real model from a real registry (NATS, PostgreSQL, store):
 * every RPC, typed and raw contents (raw answers equal to REST's for the same input), requested and
 * unknown outputs, every malformed input, the status codes, the health service, token auth, and an
 * edge forwarding to two replicas, one of which dies.
 */
const logger = createLogger('oip-grpc', 'silent');
const images = parseIdx(readSeedFile('mnist', 't10k-images-idx3-ubyte')).data;
const labels = parseIdx(readSeedFile('mnist', 't10k-labels-idx1-ubyte')).data;
const sample = (i: number) => Array.from(images.subarray(i * PIXELS, (i + 1) * PIXELS));
const unit = (i: number) => sample(i).map((v) => v / 255);

type Rpc = 'ServerLive' | 'ServerReady' | 'ModelReady' | 'ServerMetadata' | 'ModelMetadata' | 'ModelInfer';
type Unary = (req: unknown, md: Metadata, cb: (err: ServiceError | null, res: unknown) => void) => void;
interface OutputTensor {
  name: string;
  datatype: string;
  shape: number[];
  contents?: { fp32_contents?: number[]; int64_contents?: number[] };
}
interface InferResponse {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, { string_param?: string }>;
  outputs: OutputTensor[];
  raw_output_contents: Buffer[];
}

const OipClient = makeGenericClientConstructor(oipServiceDefinition(), 'GRPCInferenceService');
const HealthClient = makeGenericClientConstructor(healthService as unknown as ServiceDefinition, 'Health');

/** A client as a Triton/KServe user holds one: call an RPC, get the answer or the error status. */
function oipClient(address: string) {
  const client = new OipClient(address, credentials.createInsecure()) as unknown as Client & Record<Rpc, Unary>;
  const call = <T = Record<string, unknown>>(rpc: Rpc, req: unknown, token?: string) =>
    new Promise<T>((resolve, reject) => {
      const md = new Metadata();
      if (token) md.set('authorization', `Bearer ${token}`);
      client[rpc](req, md, (err, res) => (err ? reject(err) : resolve(res as T)));
    });
  const fails = async (rpc: Rpc, req: unknown, token?: string) => {
    const err = await call(rpc, req, token).then(
      () => undefined,
      (e: ServiceError) => e,
    );
    expect(err, `${rpc} should fail`).toBeDefined();
    return err as ServiceError;
  };
  return { call, fails, infer: (req: unknown, token?: string) => call<InferResponse>('ModelInfer', req, token), close: () => client.close() };
}

function healthClient(address: string) {
  const client = new HealthClient(address, credentials.createInsecure()) as unknown as Client & { Check: Unary; Watch: (req: unknown) => NodeJS.EventEmitter & { cancel(): void } };
  return {
    check: (service: string) =>
      new Promise<string>((resolve, reject) => client.Check({ service }, new Metadata(), (err, res) => (err ? reject(err) : resolve((res as { status: string | number }).status as string)))),
    watchFirst: (service: string) =>
      new Promise<unknown>((resolve, reject) => {
        const stream = client.Watch({ service });
        stream.on('data', (m: { status: unknown }) => {
          resolve(m.status);
          stream.cancel();
        });
        stream.on('error', (e: ServiceError) => (e.code === status.CANCELLED ? undefined : reject(e)));
      }),
    close: () => client.close(),
  };
}

const image = (over: Record<string, unknown> = {}) => ({ name: 'image', datatype: 'FP32', shape: [1, 28, 28], contents: { fp32_contents: unit(0) }, ...over });
const f32 = (values: number[]) => Array.from(new Float32Array(values));

describe('Open Inference Protocol v2 gRPC conformance', () => {
  let live: LiveRegistry<RunningRegistry>;
  let gateway: RunningGateway;
  let grpc: GrpcServing;
  let client: ReturnType<typeof oipClient>;
  const cleanup: (() => unknown)[] = [];

  /** What REST answers for the same input, for comparison. */
  const restProbabilities = async (data: number[], shape: number[], datatype = 'FP32') => {
    const res = await gateway.app.inject({ method: 'POST', url: '/v2/models/mnist/versions/1/infer', payload: { inputs: [{ name: 'image', datatype, shape, data }] } });
    expect(res.statusCode).toBe(200);
    return (res.json() as { outputs: { name: string; data: number[] }[] }).outputs.find((o) => o.name === 'probabilities')!.data;
  };

  beforeAll(async () => {
    await initBackend('wasm');
    live = await startLiveRegistry(startRegistry, { GATE_MARGIN: 0, GATE_CLASS_FLOOR: 0 });
    // Trained a little, so different digits get different answers (a mixed-up row shows).
    const model = createModel('cnn-small', { seed: 3 });
    await trainModel(model, { train: { images: images.slice(2000 * PIXELS, 3000 * PIXELS), labels: labels.slice(2000, 3000), count: 1000 } }, { epochs: 1, batchSize: 32, seed: 3 });
    await live.publishModel('job-grpc', model, { accuracy: 0.5 });
    model.dispose();
    await live.waitForChampion();
    gateway = startGateway({ registryUrl: live.url, bus: live.bus, logger, metrics: createMetricsRegistry('oip-grpc') });
    grpc = await gateway.listenGrpc({ port: 0, host: '127.0.0.1' });
    client = oipClient(`127.0.0.1:${grpc.port}`);
  }, 120_000);

  afterAll(async () => {
    client?.close();
    for (const c of cleanup.reverse()) await c();
    await gateway?.stop();
    await gateway?.app.close();
    await live?.close();
  });

  it('answers liveness, readiness and the server metadata', async () => {
    expect(await client.call('ServerLive', {})).toEqual({ live: true });
    expect(await client.call('ServerReady', {})).toEqual({ ready: true });
    expect(await client.call('ServerMetadata', {})).toEqual({ name: 'mlpipe-gateway', version: expect.any(String), extensions: expect.arrayContaining(['binary_tensor_data', 'parameters']) });
  });

  it('describes the model by name and by version, and says it is ready; unknown ones are NOT_FOUND, a malformed one INVALID_ARGUMENT', async () => {
    const expected = {
      name: 'mnist',
      versions: ['1'],
      platform: 'tensorflowjs',
      inputs: [{ name: 'image', datatype: 'FP32', shape: [-1, 28, 28] }],
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 10] },
        { name: 'class', datatype: 'INT64', shape: [-1] },
      ],
    };
    expect(await client.call('ModelMetadata', { name: 'mnist' })).toEqual(expected);
    expect(await client.call('ModelMetadata', { name: 'mnist', version: '1' })).toEqual(expected);
    expect(await client.call('ModelReady', { name: 'mnist' })).toEqual({ ready: true });
    expect(await client.call('ModelReady', { name: 'mnist', version: '1' })).toEqual({ ready: true });
    for (const [rpc, req] of [
      ['ModelMetadata', { name: 'ghost' }],
      ['ModelMetadata', { name: 'mnist', version: '9' }],
      ['ModelReady', { name: 'ghost' }],
      ['ModelReady', { name: 'mnist', version: '9' }],
      ['ModelInfer', { model_name: 'ghost', inputs: [image()] }],
      ['ModelInfer', { model_name: 'mnist', model_version: '9', inputs: [image()] }],
    ] as const) {
      const err = await client.fails(rpc, req);
      expect([err.code, err.details], JSON.stringify(req)).toEqual([status.NOT_FOUND, expect.stringMatching(/ghost|version 9|no version/)]);
    }
    for (const req of [{ name: 'Not A Name' }, { name: 'mnist', version: 'one' }, { name: '' }])
      expect((await client.fails('ModelMetadata', req)).code, JSON.stringify(req)).toBe(status.INVALID_ARGUMENT);
  });

  it('infers from typed contents (FP32, UINT8) through the routing policy and by version, as REST answers', async () => {
    const data = [...unit(0), ...unit(1), ...unit(2)];
    const rest = await restProbabilities(data, [3, 28, 28]);
    for (const req of [
      { model_name: 'mnist', id: 'req-1', inputs: [image({ shape: [3, 28, 28], contents: { fp32_contents: data } })] },
      { model_name: 'mnist', model_version: '1', id: 'req-1', inputs: [image({ shape: [3, 784], contents: { fp32_contents: data } })] },
      { model_name: 'mnist', id: 'req-1', inputs: [image({ datatype: 'UINT8', shape: [3, 28, 28], contents: { uint_contents: [...sample(0), ...sample(1), ...sample(2)] } })] },
    ]) {
      const res = await client.infer(req);
      expect(res).toMatchObject({ model_name: 'mnist', model_version: '1', id: 'req-1', raw_output_contents: [] });
      expect(res.parameters.variant?.string_param).toBe(req.model_version ? 'named' : 'champion');
      expect(res.outputs.map((o) => [o.name, o.datatype, o.shape])).toEqual([
        ['probabilities', 'FP32', [3, 10]],
        ['class', 'INT64', [3]],
      ]);
      const probabilities = res.outputs[0]!.contents!.fp32_contents!;
      expect(probabilities).toEqual(f32(rest));
      const rows = [0, 1, 2].map((r) => probabilities.slice(r * 10, r * 10 + 10));
      expect(res.outputs[1]!.contents!.int64_contents).toEqual(rows.map((p) => p.indexOf(Math.max(...p))));
    }
  });

  it('reads raw_input_contents (FP32 and UINT8) and answers raw_output_contents equal to REST for the same input', async () => {
    const data = [...unit(3), ...unit(4)];
    const rest = await restProbabilities(data, [2, 28, 28]);
    for (const [datatype, raw] of [
      ['FP32', encodeRawTensor('FP32', data)],
      ['UINT8', Uint8Array.from([...sample(3), ...sample(4)])],
    ] as const) {
      const res = await client.infer({ model_name: 'mnist', inputs: [{ name: 'image', datatype, shape: [2, 28, 28] }], raw_input_contents: [Buffer.from(raw)] });
      expect(res.outputs.map((o) => [o.name, o.datatype, o.shape, o.contents])).toEqual([
        ['probabilities', 'FP32', [2, 10], undefined],
        ['class', 'INT64', [2], undefined],
      ]);
      expect(res.raw_output_contents.map((b) => b.length)).toEqual([2 * 10 * 4, 2 * 8]);
      const probabilities = decodeRawTensor('FP32', res.raw_output_contents[0]!);
      expect(probabilities).toEqual(f32(rest));
      expect(decodeRawTensor('INT64', res.raw_output_contents[1]!)).toEqual([0, 1].map((r) => { const p = probabilities.slice(r * 10, r * 10 + 10); return p.indexOf(Math.max(...p)); }));
    }
  });

  it('returns only the outputs asked for, in the order asked, raw or typed, and refuses unknown ones', async () => {
    const only = await client.infer({ model_name: 'mnist', inputs: [image()], outputs: [{ name: 'class' }] });
    expect(only.outputs.map((o) => o.name)).toEqual(['class']);
    const both = await client.infer({ model_name: 'mnist', inputs: [image()], outputs: [{ name: 'class' }, { name: 'probabilities' }] });
    expect(both.outputs.map((o) => o.name)).toEqual(['class', 'probabilities']);
    const raw = await client.infer({ model_name: 'mnist', inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 784] }], raw_input_contents: [Buffer.from(encodeRawTensor('FP32', unit(0)))], outputs: [{ name: 'probabilities' }] });
    expect([raw.outputs.map((o) => o.name), raw.raw_output_contents.length]).toEqual([['probabilities'], 1]);
    for (const outputs of [[{ name: 'nope' }], [{ name: 'class' }, { name: 'class' }]]) {
      const err = await client.fails('ModelInfer', { model_name: 'mnist', inputs: [image()], outputs });
      expect([err.code, err.details]).toEqual([status.INVALID_ARGUMENT, expect.stringMatching(/unknown output "nope"|requested twice/)]);
    }
  });

  it('answers every malformed request with INVALID_ARGUMENT and the reason, as REST does', async () => {
    const raw = Buffer.from(encodeRawTensor('FP32', unit(0)));
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['no inputs', {}, /exactly one input/],
      ['two inputs', { inputs: [image(), image()] }, /exactly one input/],
      ['wrong input name', { inputs: [image({ name: 'nope' })] }, /unknown input "nope"/],
      ['wrong shape', { inputs: [image({ shape: [1, 27, 28] })] }, /shape \[1,27,28\]/],
      ['wrong datatype', { inputs: [image({ datatype: 'INT32', contents: { int_contents: sample(0) } })] }, /datatype INT32 is not supported/],
      ['too few elements', { inputs: [image({ contents: { fp32_contents: unit(0).slice(0, 700) } })] }, /holds 700 values/],
      ['too many elements', { inputs: [image({ contents: { fp32_contents: [...unit(0), 0] } })] }, /holds 785 values/],
      ['values out of range', { inputs: [image({ contents: { fp32_contents: [...unit(0).slice(1), 7] } })] }, /must lie in \[0, 1\]/],
      ['contents in the wrong field', { inputs: [image({ contents: { fp64_contents: unit(0) } })] }, /go in contents.fp32_contents, not contents.fp64_contents/],
      ['no elements', { inputs: [image({ contents: {} })] }, /has no elements/],
      ['contents and raw', { inputs: [image()], raw_input_contents: [raw] }, /both/],
      ['raw of the wrong size', { inputs: [image({ contents: undefined })], raw_input_contents: [raw.subarray(4)] }, /3132 bytes of binary data/],
      ['raw for some inputs only', { inputs: [image({ contents: undefined }), image({ contents: undefined })], raw_input_contents: [raw] }, /raw_input_contents has 1 entries for 2 inputs/],
      ['a parameter without a value', { inputs: [image()], parameters: { x: {} } }, /parameter "x" has no value/],
      ['no model name', { model_name: '' }, /model_name is required/],
      ['a malformed version', { model_version: 'v1' }, /not a positive whole number/],
    ];
    for (const [what, over, reason] of cases) {
      const err = await client.fails('ModelInfer', { model_name: 'mnist', ...over });
      expect([err.code, err.details], what).toEqual([status.INVALID_ARGUMENT, expect.stringMatching(reason)]);
    }
  });

  it('answers UNAVAILABLE while not ready, says so in ServerReady and the health service, and serves again after', async () => {
    const health = healthClient(`127.0.0.1:${grpc.port}`);
    cleanup.push(() => health.close());
    expect(await health.check('')).toBe('SERVING');
    expect(await health.check('inference.GRPCInferenceService')).toBe('SERVING');
    expect(await health.watchFirst('')).toBe('SERVING');
    const unknown = await health.check('no.such.Service').catch((e: ServiceError) => e);
    expect((unknown as ServiceError).code).toBe(status.NOT_FOUND);
    gateway.setReady(false);
    try {
      expect(await client.call('ServerReady', {})).toEqual({ ready: false });
      expect(await client.call('ServerLive', {})).toEqual({ live: true });
      for (const [rpc, req] of [['ModelInfer', { model_name: 'mnist', inputs: [image()] }], ['ModelReady', { name: 'mnist' }]] as const) {
        const err = await client.fails(rpc, req);
        expect([err.code, err.details], rpc).toEqual([status.UNAVAILABLE, expect.stringMatching(/not ready/)]);
      }
      await eventually(async () => (await health.check('')) === 'NOT_SERVING', 5000, 'health NOT_SERVING');
    } finally {
      gateway.setReady(true);
    }
    await eventually(async () => (await health.check('')) === 'SERVING', 5000, 'health SERVING again');
    expect((await client.infer({ model_name: 'mnist', inputs: [image()] })).outputs).toHaveLength(2);
  });

  it('answers UNAVAILABLE with retry-after past a full batch queue, at once (directly and through an edge, which keeps the busy replica), and answers what it queued', async () => {
    // A long delay holds the two queued calls, so the queue is surely full when the third comes.
    const tiny = startGateway({ registryUrl: live.url, bus: live.bus, logger, metrics: createMetricsRegistry('oip-grpc-tiny'), batching: { enabled: true, maxBatchSize: 32, maxDelayMs: 1500, maxQueue: 2 } });
    cleanup.push(() => tiny.stop());
    const serving = await tiny.listenGrpc({ port: 0, host: '127.0.0.1' });
    const c = oipClient(`127.0.0.1:${serving.port}`);
    cleanup.push(() => c.close());
    expect(await c.call('ModelReady', { name: 'mnist' })).toEqual({ ready: true });
    // An edge in front of it, set up before the queue fills: nothing slow happens while the queued calls wait.
    const pool = new GrpcReplicaPool([`127.0.0.1:${serving.port}`], 2000, 60_000);
    const edgeServing = await listenGrpc(buildGrpcEdge({ pool, metrics: createMetricsRegistry('oip-grpc-edge-busy'), logger, isReady: () => true }), { port: 0, host: '127.0.0.1', isReady: () => true });
    const edge = oipClient(`127.0.0.1:${edgeServing.port}`);
    cleanup.push(() => edge.close(), () => edgeServing.close(), () => pool.stop());
    expect(await edge.call('ModelReady', { name: 'mnist' })).toEqual({ ready: true });
    const queued = [c.infer({ model_name: 'mnist', inputs: [image()] }), c.infer({ model_name: 'mnist', inputs: [image()] })];
    await new Promise((r) => setTimeout(r, 300));
    const err = await c.fails('ModelInfer', { model_name: 'mnist', inputs: [image()] });
    expect([err.code, err.details, err.metadata.get('retry-after')]).toEqual([status.UNAVAILABLE, expect.stringMatching(/busy: 2 requests are waiting/), ['1']]);
    // Through an edge the busy replica's status comes back as it was, and the replica stays in the rotation.
    const viaEdge = await edge.fails('ModelInfer', { model_name: 'mnist', inputs: [image()] });
    expect([viaEdge.code, viaEdge.details, viaEdge.metadata.get('retry-after'), pool.healthyCount()]).toEqual([status.UNAVAILABLE, expect.stringMatching(/busy/), ['1'], 1]);
    for (const r of await Promise.all(queued)) expect(r.outputs).toHaveLength(2);
  }, 30_000);

  it('with GATEWAY_AUTH=token: inference and metadata need a token (UNAUTHENTICATED without or with a bad one), liveness, readiness and health do not', async () => {
    const guarded = startGateway({ registryUrl: live.url, bus: live.bus, logger, metrics: createMetricsRegistry('oip-grpc-auth'), grpcAuthorize: grpcAuthOf({ GATEWAY_AUTH: 'token', REGISTRY_URL: live.url, AUTH_CACHE_MS: 0 }) });
    cleanup.push(() => guarded.stop());
    const serving = await guarded.listenGrpc({ port: 0, host: '127.0.0.1' });
    const c = oipClient(`127.0.0.1:${serving.port}`);
    const health = healthClient(`127.0.0.1:${serving.port}`);
    cleanup.push(() => c.close(), () => health.close());
    const { token } = await live.registry.tokens.create('grpc-test', 'viewer');
    const infer = { model_name: 'mnist', inputs: [image()] };
    for (const [rpc, req] of [['ModelInfer', infer], ['ModelMetadata', { name: 'mnist' }], ['ModelReady', { name: 'mnist' }], ['ServerMetadata', {}]] as const) {
      for (const bad of [undefined, 'mlp_00000000_notarealtokennotarealtokennotarealtokennotareal0']) {
        const err = await c.fails(rpc, req, bad);
        expect([err.code, err.details], `${rpc} ${bad ? 'bad token' : 'no token'}`).toEqual([status.UNAUTHENTICATED, expect.any(String)]);
      }
    }
    expect(await c.call('ServerLive', {})).toEqual({ live: true });
    expect(await c.call('ServerReady', {})).toEqual({ ready: true });
    expect(await health.check('')).toBe('SERVING');
    expect((await c.infer(infer, token)).outputs).toHaveLength(2);
    expect(await c.call('ModelMetadata', { name: 'mnist' }, token)).toMatchObject({ name: 'mnist' });
  }, 30_000);

  it('through an edge: calls go to the replicas gRPC ports, answers and errors pass through, a dead replica fails no call, none left is UNAVAILABLE', async () => {
    // The second replica pins version 1 (MODEL_VERSION): its gRPC answers follow the routing policy as REST's do.
    const second = startGateway({ registryUrl: live.url, bus: live.bus, logger, metrics: createMetricsRegistry('oip-grpc-2'), pinnedVersion: 1 });
    cleanup.push(() => second.stop());
    const secondServing = await second.listenGrpc({ port: 0, host: '127.0.0.1' });
    const pinned = oipClient(`127.0.0.1:${secondServing.port}`);
    cleanup.push(() => pinned.close());
    expect((await pinned.infer({ model_name: 'mnist', inputs: [image()] })).parameters.variant?.string_param).toBe('pinned');
    // The probe is far off: marking a replica down must not wait for it.
    const pool = new GrpcReplicaPool([`127.0.0.1:${grpc.port}`, `127.0.0.1:${secondServing.port}`], 2000, 60_000);
    const edgeServer = buildGrpcEdge({ pool, metrics: createMetricsRegistry('oip-grpc-edge'), logger, isReady: () => true });
    const edgeServing = await listenGrpc(edgeServer, { port: 0, host: '127.0.0.1', isReady: () => pool.healthyCount() > 0 });
    const edge = oipClient(`127.0.0.1:${edgeServing.port}`);
    cleanup.push(() => edge.close(), () => edgeServing.close(), () => pool.stop());

    const data = [...unit(5), ...unit(6)];
    const direct = await client.infer({ model_name: 'mnist', inputs: [{ name: 'image', datatype: 'FP32', shape: [2, 784] }], raw_input_contents: [Buffer.from(encodeRawTensor('FP32', data))] });
    const variants = new Set<string | undefined>();
    for (let i = 0; i < 4; i++) {
      const via = await edge.infer({ model_name: 'mnist', id: `e${i}`, inputs: [{ name: 'image', datatype: 'FP32', shape: [2, 784] }], raw_input_contents: [Buffer.from(encodeRawTensor('FP32', data))] });
      expect([via.id, via.raw_output_contents]).toEqual([`e${i}`, direct.raw_output_contents]);
      variants.add(via.parameters.variant?.string_param);
    }
    // Round robin: both replicas answered (the champion one and the pinned one).
    expect([...variants].sort()).toEqual(['champion', 'pinned']);
    expect(await edge.call('ModelMetadata', { name: 'mnist' })).toMatchObject({ name: 'mnist', versions: ['1'] });
    expect(await edge.call('ServerReady', {})).toEqual({ ready: true });
    const bad = await edge.fails('ModelInfer', { model_name: 'mnist', inputs: [image({ name: 'nope' })] });
    expect([bad.code, bad.details]).toEqual([status.INVALID_ARGUMENT, expect.stringMatching(/unknown input "nope"/)]);
    expect((await edge.fails('ModelReady', { name: 'ghost' })).code).toBe(status.NOT_FOUND);

    // One replica goes: every call still answered (by the other), and it is marked down.
    await secondServing.close();
    for (let i = 0; i < 4; i++) expect((await edge.infer({ model_name: 'mnist', inputs: [image()] })).outputs).toHaveLength(2);
    expect(pool.healthyCount()).toBe(1);
    // The other says it is not ready (UNAVAILABLE): no replica can answer.
    gateway.setReady(false);
    try {
      const none = await edge.fails('ModelInfer', { model_name: 'mnist', inputs: [image()] });
      expect([none.code, none.details]).toEqual([status.UNAVAILABLE, expect.stringMatching(/no model replica could answer/)]);
      expect(await edge.call('ServerReady', {})).toEqual({ ready: false });
    } finally {
      gateway.setReady(true);
    }
  }, 30_000);
});
