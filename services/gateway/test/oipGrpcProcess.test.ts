import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, makeGenericClientConstructor, Metadata, status, type Client, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { eventually } from '@mlpipe/common';
import { freePort } from '@mlpipe/runtime';
import { createModel, initBackend, PIXELS } from '@mlpipe/ml';
import { parseIdx, readSeedFile } from '@mlpipe/dataset';
import { startLiveRegistry, type LiveRegistry } from '@mlpipe/testing';
import { startRegistry, type RunningRegistry } from '@mlpipe/registry/service';
import { oipServiceDefinition } from '../src/adapters/grpcProto';
import { decodeRawTensor } from '../src/core/oipTensors';

/**
 * OIP gRPC as the runtime starts it (main.ts → serveGateway): a model replica process with
 * GATEWAY_GRPC_PORT, and an edge process with MODEL_REPLICAS and MODEL_REPLICAS_GRPC in front of it.
 * A call through the edge's gRPC port answers as the edge's REST does; SIGTERM drains the replica
 * (exit 0) and the edge then says UNAVAILABLE.
 */
const root = resolve(import.meta.dirname, '../../..');
const images = parseIdx(readSeedFile('mnist', 't10k-images-idx3-ubyte')).data;
const pixels = Array.from(images.subarray(0, PIXELS));

type Unary = (req: unknown, md: Metadata, cb: (err: ServiceError | null, res: unknown) => void) => void;
const OipClient = makeGenericClientConstructor(oipServiceDefinition(), 'GRPCInferenceService');
const HealthClient = makeGenericClientConstructor(healthService as unknown as ServiceDefinition, 'Health');
const unary = <T>(fn: Unary, req: unknown) => new Promise<T>((ok, fail) => fn(req, new Metadata(), (err, res) => (err ? fail(err) : ok(res as T))));

describe('OIP gRPC in gateway processes (replica and edge)', () => {
  let live: LiveRegistry<RunningRegistry>;
  const children: ChildProcess[] = [];
  const clients: Client[] = [];

  const startGateway = async (env: Record<string, string>) => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'services/gateway/src/main.ts')], {
      cwd: root,
      env: { ...process.env, BUS_NAMESPACE: live.bus.namespace, REGISTRY_URL: live.url, HTTP_PORT: String(port), LOG_LEVEL: 'warn', ...env },
      stdio: 'ignore',
    });
    children.push(child);
    const url = `http://127.0.0.1:${port}`;
    await eventually(() => fetch(`${url}/readyz`).then((r) => r.ok, () => false), 60_000, `gateway on ${port}`);
    return { url, child };
  };

  beforeAll(async () => {
    await initBackend('wasm');
    live = await startLiveRegistry(startRegistry);
    await live.publishModel('job-grpc-p', createModel('cnn-small', { seed: 3 }), { accuracy: 0.1 }); // untrained is enough to serve
    await live.waitForChampion();
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    for (const c of children) c.kill('SIGKILL');
    await live?.close();
  });

  it('serves gRPC on GATEWAY_GRPC_PORT, forwards it from the edge to MODEL_REPLICAS_GRPC, and drains on SIGTERM', async () => {
    const replicaGrpc = await freePort();
    const edgeGrpc = await freePort();
    const replica = await startGateway({ GATEWAY_GRPC_PORT: String(replicaGrpc) });
    const edge = await startGateway({ MODEL_REPLICAS: replica.url, MODEL_REPLICAS_GRPC: `127.0.0.1:${replicaGrpc}`, GATEWAY_GRPC_PORT: String(edgeGrpc) });
    const viaEdge = new OipClient(`127.0.0.1:${edgeGrpc}`, credentials.createInsecure()) as unknown as Client & Record<'ModelInfer' | 'ServerReady', Unary>;
    const edgeHealth = new HealthClient(`127.0.0.1:${edgeGrpc}`, credentials.createInsecure()) as unknown as Client & { Check: Unary };
    clients.push(viaEdge, edgeHealth);

    // The health service follows readiness within its 0.2 s sync, so right after /readyz it may still say NOT_SERVING.
    await eventually(async () => (await unary<{ status: string }>(edgeHealth.Check.bind(edgeHealth), { service: '' })).status === 'SERVING', 10_000, 'the edge gRPC health SERVING');
    const res = await unary<{ model_name: string; raw_output_contents: Buffer[] }>(viaEdge.ModelInfer.bind(viaEdge), {
      model_name: 'mnist',
      inputs: [{ name: 'image', datatype: 'UINT8', shape: [1, 28, 28] }],
      raw_input_contents: [Buffer.from(pixels)],
    });
    const rest = await fetch(`${edge.url}/v2/models/mnist/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: [{ name: 'image', datatype: 'UINT8', shape: [1, 28, 28], data: pixels }] }) });
    const restProbabilities = ((await rest.json()) as { outputs: { name: string; data: number[] }[] }).outputs.find((o) => o.name === 'probabilities')!.data;
    expect(res.model_name).toBe('mnist');
    expect(decodeRawTensor('FP32', res.raw_output_contents[0]!)).toEqual(Array.from(new Float32Array(restProbabilities)));

    const exited = new Promise<number | null>((done) => replica.child.once('exit', (code) => done(code)));
    replica.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const err = await unary(viaEdge.ModelInfer.bind(viaEdge), { model_name: 'mnist', inputs: [{ name: 'image', datatype: 'UINT8', shape: [1, 28, 28] }], raw_input_contents: [Buffer.from(pixels)] }).then(
      () => undefined,
      (e: ServiceError) => e,
    );
    expect([err?.code, err?.details]).toEqual([status.UNAVAILABLE, expect.stringMatching(/no model replica could answer/)]);
    expect(await unary(viaEdge.ServerReady.bind(viaEdge), {})).toEqual({ ready: false });
  }, 120_000);
});
