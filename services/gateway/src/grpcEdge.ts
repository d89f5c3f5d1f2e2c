import { Metadata, Server, type MethodDefinition, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from '@mlpipe/common';
import { Counter, Histogram, type Registry } from 'prom-client';
import { oipServiceDefinition } from './adapters/grpcProto';
import type { GrpcReplicaPool } from './adapters/grpcReplicaPool';
import type { CallAuthorizer } from './grpcAuth';
import { authorizationOf, PassedStatus, unaryHandler } from './grpcServing';

const identity = (b: Buffer): Buffer => b;
/** What the edge answers itself, as its HTTP side answers /v2/health/*: it is live, and ready while some replica is. */
const LOCAL_RPCS = new Set(['ServerLive', 'ServerReady']);

/**
 * The edge's gRPC face (a gateway with MODEL_REPLICAS): every inference.GRPCInferenceService call
 * but liveness and readiness is forwarded, still encoded, to a replica's gRPC port by the pool
 * (adapters/grpcReplicaPool.ts: health-aware round robin, retried elsewhere when a replica is down
 * or UNAVAILABLE). As for HTTP, the replicas do all validation and their answers and error statuses
 * are passed on untouched; the edge checks the token too (GATEWAY_AUTH=token) and passes it on.
 */
export function buildGrpcEdge(deps: {
  pool: GrpcReplicaPool;
  metrics: Registry;
  logger: Logger;
  isReady: () => boolean;
  authorize?: CallAuthorizer | undefined;
}): Server {
  const hop = new Histogram({ name: 'mlpipe_gateway_grpc_forward_seconds', help: 'Time to forward a gRPC call to a model replica', labelNames: ['code'], buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5], registers: [deps.metrics] });
  const failures = new Counter({ name: 'mlpipe_gateway_grpc_unanswered_total', help: 'gRPC calls no replica could answer', registers: [deps.metrics] });
  const ready = () => deps.isReady() && deps.pool.healthyCount() > 0;
  const oip = oipServiceDefinition();
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  const handlers: UntypedServiceImplementation = {};
  for (const [rpc, method] of Object.entries(oip) as [string, MethodDefinition<unknown, unknown>][]) {
    if (LOCAL_RPCS.has(rpc)) {
      definition[rpc] = method;
      handlers[rpc] = unaryHandler(rpc, deps, async () => (rpc === 'ServerLive' ? { live: true } : { ready: ready() }));
      continue;
    }
    definition[rpc] = { ...method, requestDeserialize: identity, responseSerialize: identity } as MethodDefinition<unknown, unknown>;
    handlers[rpc] = unaryHandler<Buffer, Buffer>(rpc, deps, async (request, call) => {
      const started = performance.now();
      const passed = new Metadata();
      const authorization = authorizationOf(call.metadata);
      if (authorization !== undefined) passed.set('authorization', authorization);
      try {
        const answer = await deps.pool.forward(method.path, request, passed);
        hop.observe({ code: 'error' in answer ? String(answer.error.code) : '0' }, (performance.now() - started) / 1000);
        if ('error' in answer) throw new PassedStatus(answer.error);
        return answer.response;
      } catch (err) {
        if (!(err instanceof PassedStatus)) failures.inc();
        throw err;
      }
    });
  }
  const server = new Server();
  server.addService(definition as ServiceDefinition, handlers);
  return server;
}
