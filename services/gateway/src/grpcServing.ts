import { Metadata, status, type Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import type { Logger } from '@mlpipe/common';
import { grpcErrorStatus } from './core/grpcStatus';
import { OIP_SERVICE_NAME, OPEN_RPCS } from './adapters/grpcProto';
import type { CallAuthorizer } from './grpcAuth';

/** A gRPC server listening; `close` lets calls in flight finish (up to a deadline), then cuts the rest. */
export interface GrpcServing {
  port: number;
  close(): Promise<void>;
}

/** How often the health service's status is brought in line with readiness (Watch streams see each change). */
const HEALTH_SYNC_MS = 200;
const CLOSE_DEADLINE_MS = 5000;

/**
 * Listens a gRPC server (the replica's or the edge's) with the standard health service
 * (grpc.health.v1.Health, Check and Watch, from grpc-health-check) beside it: "" and the inference
 * service are SERVING while `isReady()`, NOT_SERVING otherwise. Port 0 takes a free one.
 */
export async function listenGrpc(server: Server, opts: { port: number; host?: string; isReady: () => boolean }): Promise<GrpcServing> {
  const health = new HealthImplementation();
  health.addToServer(server);
  const sync = () => {
    const s: ServingStatus = opts.isReady() ? 'SERVING' : 'NOT_SERVING';
    for (const name of ['', OIP_SERVICE_NAME]) health.setStatus(name, s);
  };
  sync();
  const host = opts.host ?? '0.0.0.0';
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${opts.port}`, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const timer = setInterval(sync, HEALTH_SYNC_MS);
  timer.unref();
  let closing: Promise<void> | undefined;
  return {
    port,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        clearInterval(timer);
        const force = setTimeout(() => server.forceShutdown(), CLOSE_DEADLINE_MS);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      })),
  };
}

/** The `authorization` metadata of a call (one value, as HTTP's header). */
export function authorizationOf(metadata: Metadata): string | undefined {
  const v = metadata.get('authorization')[0];
  return typeof v === 'string' ? v : undefined;
}

/**
 * A unary handler from an async function: the token is checked first for every RPC but liveness and
 * readiness (GATEWAY_AUTH=token), and whatever it throws goes back as the mapped status code.
 */
export function unaryHandler<Req, Res>(
  rpc: string,
  deps: { authorize?: CallAuthorizer | undefined; logger: Logger },
  answer: (request: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>,
): (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void {
  return (call, callback) => {
    const run = async () => {
      if (deps.authorize && !OPEN_RPCS.has(rpc)) await deps.authorize(authorizationOf(call.metadata));
      return answer(call.request, call);
    };
    run().then(
      (res) => callback(null, res),
      (err: unknown) => {
        if (err instanceof PassedStatus) return callback(err.status);
        const s = grpcErrorStatus(err);
        if (s.code === status.INTERNAL) deps.logger.error({ err, rpc }, 'gRPC call failed');
        const metadata = new Metadata();
        if (s.retryAfterSeconds !== undefined) metadata.set('retry-after', String(s.retryAfterSeconds));
        callback({ code: s.code, details: s.details, metadata });
      },
    );
  };
}

/** Another server's error status (a replica's, at the edge), sent on as it came rather than mapped. */
export class PassedStatus extends Error {
  constructor(readonly status: { code: number; details: string; metadata: Metadata }) {
    super(status.details);
  }
}
