import { Server, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { NotFoundError, TransientError, type Logger } from '@mlpipe/common';
import { modelMetadata, serverMetadata, validateDigitRequest } from './core/oip';
import {
  encodeGrpcInferResponse,
  grpcModel,
  grpcRoute,
  parseGrpcInferRequest,
  usesRawContents,
  type GrpcModelInferRequest,
} from './core/oipGrpc';
import type { Routing } from './core/routing';
import type { ModelCache } from './adapters/modelCache';
import { oipServiceDefinition } from './adapters/grpcProto';
import type { Predictor } from './app/predictor';
import { answerInference } from './app/oipInference';
import type { CallAuthorizer } from './grpcAuth';
import { unaryHandler } from './grpcServing';

export interface GrpcGatewayDeps {
  models: ModelCache;
  routing: Routing;
  predictor: Predictor;
  logger: Logger;
  isReady: () => boolean;
  /** GATEWAY_AUTH=token: every RPC but ServerLive and ServerReady needs a viewer token. */
  authorize?: CallAuthorizer | undefined;
}

interface ModelRequest {
  name?: string;
  version?: string;
}

/**
 * The model replica's gRPC face: `inference.GRPCInferenceService` over the same model cache,
 * routing policy (pin, canary, shadow) and predictor (dynamic batching, sampling) as REST
 * (routes/oip.ts), with the same validation (core/oip.ts via core/oipGrpc.ts). Only the wire differs:
 * REST's 400/404/503 are INVALID_ARGUMENT/NOT_FOUND/UNAVAILABLE here (core/grpcStatus.ts).
 */
export function buildGrpcGateway(deps: GrpcGatewayDeps): Server {
  const requireReady = () => {
    if (!deps.isReady())
      throw new TransientError('the gateway is not ready (starting or shutting down); try again or another replica');
  };
  const rpc = <Req, Res>(name: string, answer: (req: Req) => Promise<Res>) => unaryHandler<Req, Res>(name, deps, answer);

  const handlers: UntypedServiceImplementation = {
    ServerLive: rpc('ServerLive', async () => ({ live: true })),
    ServerReady: rpc('ServerReady', async () => ({ ready: deps.isReady() })),
    ServerMetadata: rpc('ServerMetadata', async () => serverMetadata()),
    ModelMetadata: rpc('ModelMetadata', async (req: ModelRequest) => {
      const { name, version } = grpcModel(req.name, req.version);
      const versions = await deps.models.versions(name);
      if (version !== undefined && !versions.some((v) => v.version === version))
        throw new NotFoundError(`model ${name} has no version ${version}`);
      return modelMetadata(name, version !== undefined ? [version] : versions.map((v) => v.version));
    }),
    ModelReady: rpc('ModelReady', async (req: ModelRequest) => {
      const { name, version } = grpcModel(req.name, req.version);
      requireReady();
      await deps.models.get(version !== undefined ? { name, version } : deps.routing.byName(name));
      return { ready: true };
    }),
    ModelInfer: rpc('ModelInfer', async (req: GrpcModelInferRequest) => {
      requireReady();
      const route = grpcRoute(deps.routing, req.model_name, req.model_version);
      const inference = validateDigitRequest(parseGrpcInferRequest(req));
      const answer = await answerInference(deps.predictor, route, inference);
      return encodeGrpcInferResponse(answer, usesRawContents(req));
    }),
  };
  const server = new Server();
  server.addService(oipServiceDefinition(), handlers);
  return server;
}
