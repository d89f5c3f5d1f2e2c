import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface ReplicaResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** The whole exchange took longer than the pool's timeout (the pool counts these apart). */
export class ReplicaTimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/**
 * HTTP/1.1 to model replicas over kept-alive connections, with node:http rather than fetch: on this
 * hop fetch (undici, plus an AbortSignal timer per request) cost several times more per request,
 * measured (bench/serve: the edge answered a fraction of what its replica did at concurrency 8).
 * One timer bounds the whole exchange, connect to last byte; any failure rejects, so the pool can
 * tell "no answer" from an answer.
 */
export class ReplicaHttp {
  // Idle connections close after 4 s, before a Node server's own 5 s keep-alive timeout would close them under a request.
  private readonly http = new HttpAgent({ keepAlive: true, timeout: 4000 });
  private readonly https = new HttpsAgent({ keepAlive: true, timeout: 4000 });

  constructor(private readonly timeoutMs: number) {}

  /**
   * `fresh`: this is the retry of a request whose kept-alive connection the replica had closed just
   * before it was reused (it reset before any answer, so the replica never saw the request).
   */
  send(baseUrl: string, method: string, path: string, body: Buffer | undefined, headers: Record<string, string>, fresh = false): Promise<ReplicaResponse> {
    const url = new URL(path, baseUrl);
    const secure = url.protocol === 'https:';
    return new Promise<ReplicaResponse>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | undefined, res?: ReplicaResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(res as ReplicaResponse);
      };
      const req = (secure ? httpsRequest : httpRequest)(
        url,
        { method, agent: secure ? this.https : this.http, headers: { ...headers, ...(body !== undefined ? { 'content-length': String(body.length) } : {}) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => finish(undefined, { status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', (err) => finish(err));
          // A replica that died mid-answer: the socket closed before the body ended.
          res.on('close', () => finish(res.complete ? undefined : new Error('connection dropped mid-answer'), { status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
        },
      );
      const timer = setTimeout(() => req.destroy(new ReplicaTimeoutError(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (!settled && !fresh && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
          settled = true;
          clearTimeout(timer);
          this.send(baseUrl, method, path, body, headers, true).then(resolve, reject);
          return;
        }
        finish(err);
      });
      req.end(body);
    });
  }

  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}
