import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { TransientError } from '@mlpipe/common';
import { ReplicaRotation, type Attempt } from '../core/replicaRotation';

/** A replica's answer to a forwarded call: the response bytes, or its own error status (passed on as it is). */
export type GrpcReplicaAnswer =
  | { replica: string; response: Buffer }
  | { replica: string; error: ServiceError };

interface Replica {
  name: string;
  address: string;
  client: Client;
  healthy: boolean;
}

const identity = (b: Buffer): Buffer => b;
const HEALTH_CHECK = healthService.Check as unknown as {
  path: string;
  requestSerialize: (v: { service: string }) => Buffer;
  responseDeserialize: (b: Buffer) => { status?: string | number };
};

/**
 * The edge's gRPC side of the replica pool: calls forwarded as bytes to each replica's gRPC port by
 * the same rule as ReplicaPool (core/replicaRotation; every RPC is idempotent). How a status is read
 * is outcomeOf below. A background probe (grpc.health.v1 Check) brings replicas back. None able to
 * answer: TransientError (UNAVAILABLE).
 */
export class GrpcReplicaPool {
  private readonly rotation: ReplicaRotation<Replica>;
  private readonly timer: NodeJS.Timeout;

  constructor(
    addresses: string[],
    private readonly timeoutMs = 5000,
    probeIntervalMs = 2000,
  ) {
    if (!addresses.length) throw new Error('a gRPC replica pool needs at least one replica address');
    this.rotation = new ReplicaRotation(addresses.map((address) => ({ name: address, address, client: new Client(address, credentials.createInsecure()), healthy: true })));
    this.timer = setInterval(() => void this.probe(), probeIntervalMs);
    this.timer.unref();
  }

  healthyCount(): number {
    return this.rotation.healthyCount();
  }

  /** Forwards one unary call (`path` as /package.Service/Method, the request still encoded). */
  async forward(path: string, request: Buffer, metadata: Metadata): Promise<GrpcReplicaAnswer> {
    return this.rotation.call(
      async (replica) => outcomeOf(await this.attempt(replica, path, request, metadata), this.timeoutMs),
      (reasons) => new TransientError(`no model replica could answer (${reasons})`),
    );
  }

  stop(): void {
    clearInterval(this.timer);
    for (const r of this.rotation.replicas) r.client.close();
  }

  private attempt(replica: Replica, path: string, request: Buffer, metadata: Metadata): Promise<GrpcReplicaAnswer> {
    return new Promise((resolve) => {
      replica.client.makeUnaryRequest(path, identity, identity, request, metadata, { deadline: Date.now() + this.timeoutMs }, (err, response) =>
        resolve(err || !response ? { replica: replica.address, error: err ?? Object.assign(new Error('empty answer'), { code: status.UNAVAILABLE, details: 'empty answer', metadata: new Metadata() }) } : { replica: replica.address, response }),
      );
    });
  }

  private async probe(): Promise<void> {
    await Promise.all(
      this.rotation.replicas.map(async (r) => {
        r.healthy = await new Promise<boolean>((resolve) =>
          r.client.makeUnaryRequest(HEALTH_CHECK.path, HEALTH_CHECK.requestSerialize, HEALTH_CHECK.responseDeserialize, { service: '' }, new Metadata(), { deadline: Date.now() + 1000 }, (err, res) =>
            resolve(!err && (res?.status === 'SERVING' || res?.status === 1)),
          ),
        );
      }),
    );
  }
}

/**
 * How the rotation reads a replica's answer: UNAVAILABLE with a retry-after is busy; UNAVAILABLE
 * without one (not ready, unreachable) and DEADLINE_EXCEEDED are no answer; any other status is
 * the replica's verdict on the request and goes back unchanged.
 */
function outcomeOf(answer: GrpcReplicaAnswer, timeoutMs: number): Attempt<GrpcReplicaAnswer> {
  if (!('error' in answer)) return { answer };
  const { code, details } = answer.error;
  const retryAfterS = code === status.UNAVAILABLE ? retryAfterOf(answer.error) : undefined;
  if (retryAfterS !== undefined) return { busy: answer, retryAfterS };
  if (code === status.DEADLINE_EXCEEDED) return { reason: `no answer within ${timeoutMs} ms`, timedOut: true };
  if (code === status.UNAVAILABLE) return { reason: details || 'unavailable', timedOut: false };
  return { answer };
}

/** The `retry-after` trailer of a replica's status, in seconds; undefined without one (not ready, down). */
function retryAfterOf(error: ServiceError): number | undefined {
  const v = error.metadata?.get('retry-after')[0];
  const n = typeof v === 'string' ? Number(v) : NaN;
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}
