import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ConfigError, NotFoundError, TransientError, ValidationError } from '@mlpipe/common';
import { ForbiddenError, UnauthorizedError } from '@mlpipe/auth';
import { encodeGrpcInferResponse, fromGrpcParameters, grpcRoute, parseGrpcInferRequest, toGrpcParameters } from '../src/core/oipGrpc';
import { grpcErrorStatus } from '../src/core/grpcStatus';
import { Routing } from '../src/core/routing';
import { decodeRawTensor } from '../src/core/oipTensors';
import { replicaGrpcAddresses } from '../src/service';

/** The transport-free parts of OIP gRPC: wire form ↔ TensorRequest, parameters, status codes, the edge's replica addresses. */
describe('OIP gRPC core', () => {
  it('turns typed contents and raw inputs into the request core/oip.ts validates, by position', () => {
    const raw = Uint8Array.from([1, 2, 3]);
    const req = parseGrpcInferRequest({
      id: 'x',
      inputs: [{ name: 'image', datatype: 'UINT8', shape: [3] }],
      raw_input_contents: [raw],
      outputs: [{ name: 'class', parameters: { flag: { bool_param: true, parameter_choice: 'bool_param' } } }],
    });
    expect(req).toEqual({ id: 'x', inputs: [{ name: 'image', datatype: 'UINT8', shape: [3], raw }], outputs: [{ name: 'class', parameters: { flag: true } }] });
    const typed = parseGrpcInferRequest({ id: '', inputs: [{ name: 'image', datatype: 'FP64', shape: [2], contents: { fp64_contents: [0.5, 1] } }] });
    expect(typed).toEqual({ inputs: [{ name: 'image', datatype: 'FP64', shape: [2], data: [0.5, 1] }] });
    expect(() => parseGrpcInferRequest({ inputs: [{ name: 'image', datatype: 'FP16', shape: [1], contents: { fp32_contents: [1] } }] })).toThrow(/FP16 has no typed contents/);
    // The same schema as REST: its bounds apply (a name of more than 128 characters).
    expect(() => parseGrpcInferRequest({ inputs: [{ name: 'x'.repeat(129), datatype: 'FP32', shape: [1], contents: { fp32_contents: [1] } }] })).toThrow(ValidationError);
  });

  it('converts parameters both ways; the proto has no double, so fractions go as strings', () => {
    expect(fromGrpcParameters({ a: { int64_param: '7', parameter_choice: 'int64_param' }, b: { string_param: 's' }, c: { bool_param: false } }, 'request')).toEqual({ a: 7, b: 's', c: false });
    expect(toGrpcParameters({ a: 7, b: 's', c: true, d: 0.5 })).toEqual({ a: { int64_param: 7 }, b: { string_param: 's' }, c: { bool_param: true }, d: { string_param: '0.5' } });
  });

  it('answers typed contents, or raw_output_contents in output order', () => {
    const answer = { model_name: 'm', model_version: '2', parameters: {}, outputs: [{ name: 'class' as const, datatype: 'INT64', shape: [2], data: [3, 4] }] };
    expect(encodeGrpcInferResponse(answer, false).outputs[0]).toEqual({ name: 'class', datatype: 'INT64', shape: [2], contents: { int64_contents: [3, 4] } });
    const raw = encodeGrpcInferResponse(answer, true);
    expect([raw.outputs[0]?.contents, decodeRawTensor('INT64', raw.raw_output_contents[0]!), raw.id]).toEqual([undefined, [3, 4], '']);
  });

  it('routes as REST: the model by the routing policy, a version as named', () => {
    const routing = new Routing({ pinnedVersion: 4 });
    expect(grpcRoute(routing, 'mnist', '').variant).toBe('pinned');
    expect(grpcRoute(routing, 'mnist', '2')).toMatchObject({ selector: { name: 'mnist', version: 2 }, variant: 'named' });
  });

  it('maps the error hierarchy to status codes, hiding internals', () => {
    expect(grpcErrorStatus(new ValidationError('bad')).code).toBe(status.INVALID_ARGUMENT);
    expect(grpcErrorStatus(new NotFoundError('gone')).code).toBe(status.NOT_FOUND);
    expect(grpcErrorStatus(new TransientError('busy', { code: 'overloaded', retryAfterSeconds: 0.2 }))).toEqual({ code: status.UNAVAILABLE, details: 'busy', retryAfterSeconds: 1 });
    expect(grpcErrorStatus(new UnauthorizedError('who')).code).toBe(status.UNAUTHENTICATED);
    expect(grpcErrorStatus(new ForbiddenError('no')).code).toBe(status.PERMISSION_DENIED);
    expect(grpcErrorStatus(new Error('secret path /x'))).toEqual({ code: status.INTERNAL, details: 'internal error' });
  });

  it('finds each replica gRPC address: MODEL_REPLICAS_GRPC in order, else the replica host with GATEWAY_GRPC_PORT', () => {
    expect(replicaGrpcAddresses(['http://model-1:8080', 'http://[::1]:8080'], undefined, 9080)).toEqual(['model-1:9080', '[::1]:9080']);
    expect(replicaGrpcAddresses(['http://a:1', 'http://b:2'], ' a:7, b:8 ', 9080)).toEqual(['a:7', 'b:8']);
    expect(() => replicaGrpcAddresses(['http://a:1', 'http://b:2'], 'a:7', 9080)).toThrow(ConfigError);
  });
});
