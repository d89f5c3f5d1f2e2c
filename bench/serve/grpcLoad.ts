/**
 * A closed-loop OIP gRPC load client for the serving benchmark (bench/serve/run.ts calls it):
 * `concurrency` ModelInfer calls in flight on one channel, each sent again as soon as its answer
 * arrives, for `durationMs`. One 28×28 image per call, as UINT8 (the pixels as given, 0-255):
 * in `raw_input_contents` with `raw`, else in typed `contents.uint_contents`.
 * The request is encoded once and answers are not decoded (only their status counts), so the
 * client's own CPU, on the same machine as the server, stays small.
 */
import { Client, credentials, Metadata, type MethodDefinition } from '@grpc/grpc-js';
import { oipServiceDefinition } from '../../services/gateway/src/adapters/grpcProto';

export interface GrpcLoadOptions {
  /** host:port of a gateway's (replica's or edge's) GATEWAY_GRPC_PORT. */
  address: string;
  model: string;
  concurrency: number;
  durationMs: number;
  /** 784 pixel values, 0-255. */
  pixels: Uint8Array | number[];
  raw?: boolean;
  /** Sent as `authorization: Bearer <token>` (GATEWAY_AUTH=token). */
  token?: string;
}

export interface GrpcLoadResult {
  /** Calls answered OK (each has its latency in latenciesMs). */
  requests: number;
  /** Calls answered with any other status. */
  errors: number;
  latenciesMs: number[];
}

const identity = (b: Buffer): Buffer => b;

export async function grpcLoad(opts: GrpcLoadOptions): Promise<GrpcLoadResult> {
  if (opts.pixels.length !== 784) throw new Error(`grpcLoad: pixels must hold 784 values, not ${opts.pixels.length}`);
  const infer = oipServiceDefinition().ModelInfer as MethodDefinition<object, unknown>;
  const pixels = Uint8Array.from(opts.pixels);
  const input = { name: 'image', datatype: 'UINT8', shape: [1, 28, 28] };
  const request = infer.requestSerialize(
    opts.raw
      ? { model_name: opts.model, inputs: [input], raw_input_contents: [Buffer.from(pixels)] }
      : { model_name: opts.model, inputs: [{ ...input, contents: { uint_contents: Array.from(pixels) } }] },
  );
  const client = new Client(opts.address, credentials.createInsecure());
  const metadata = new Metadata();
  if (opts.token) metadata.set('authorization', `Bearer ${opts.token}`);
  const once = () =>
    new Promise<boolean>((resolve) =>
      client.makeUnaryRequest(infer.path, identity, identity, request, metadata, {}, (err) => resolve(!err)),
    );
  try {
    await new Promise<void>((resolve, reject) =>
      client.waitForReady(Date.now() + 10_000, (err) => (err ? reject(new Error(`grpcLoad: no gRPC server at ${opts.address}`, { cause: err })) : resolve())),
    );
    const latenciesMs: number[] = [];
    let errors = 0;
    const end = performance.now() + opts.durationMs;
    await Promise.all(
      Array.from({ length: opts.concurrency }, async () => {
        while (performance.now() < end) {
          const t0 = performance.now();
          if (await once()) latenciesMs.push(performance.now() - t0);
          else errors++;
        }
      }),
    );
    return { requests: latenciesMs.length, errors, latenciesMs };
  } finally {
    client.close();
  }
}
