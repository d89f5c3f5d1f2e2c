import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';

/**
 * The Open Inference Protocol v2 gRPC service, loaded from the proto kept in this package
 * (services/gateway/proto, copied from ../shared so an image or a deployment has it). Loaded on
 * first use, not at import. The decode options give the message shapes core/oipGrpc.ts types:
 * field names as in the proto, int64 as numbers (shapes and INT64 outputs are far below 2^53),
 * repeated fields always arrays, and the oneof's chosen field named in `parameter_choice`.
 */
export const OIP_PROTO_PATH = fileURLToPath(new URL('../../proto/grpc_predict_v2.proto', import.meta.url));
export const OIP_SERVICE_NAME = 'inference.GRPCInferenceService';
export const OIP_LOAD_OPTIONS: Options = { keepCase: true, longs: Number, enums: String, defaults: false, arrays: true, oneofs: true };

let loaded: ServiceDefinition | undefined;

export function oipServiceDefinition(): ServiceDefinition {
  if (!loaded) {
    const pkg = loadPackageDefinition(loadSync(OIP_PROTO_PATH, OIP_LOAD_OPTIONS)) as unknown as { inference: { GRPCInferenceService: { service: ServiceDefinition } } };
    loaded = pkg.inference.GRPCInferenceService.service;
  }
  return loaded;
}

/** The RPCs a caller needs a token for with GATEWAY_AUTH=token: all but liveness and readiness, as for REST's /v2/health/*. */
export const OPEN_RPCS: ReadonlySet<string> = new Set(['ServerLive', 'ServerReady']);
