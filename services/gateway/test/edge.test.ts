import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { eventually } from '@mlpipe/common';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { buildEdge } from '../src/edge';
import { ReplicaPool } from '../src/adapters/replicaPool';

const logger = createLogger('edge-test', 'silent');

type Behaviour = 'answer' | 'reset' | 'hang' | 'busy';

/**
 * A stand-in model replica on a real socket: answers /predict after a few milliseconds with its
 * name, or resets every connection, or never answers. `kill()` is what SIGKILL does to the
 * process: the listener goes and every open connection is dropped, requests in flight included.
 */
async function startReplica(name: string, initially: Behaviour = 'answer', port = 0, retryAfter = '1') {
  const stats = { received: 0, answered: 0 };
  let behaviour = initially;
  const server: Server = createServer((req, res) => {
    if (req.url === '/readyz') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ready":true}');
    stats.received++;
    if (behaviour === 'reset') return void req.socket.destroy();
    if (behaviour === 'hang') return;
    // What a replica's Batcher says when its queue is full: healthy (ready), but no room now.
    if (behaviour === 'busy') {
      return void res
        .writeHead(503, { 'content-type': 'application/json', 'retry-after': retryAfter })
        .end(JSON.stringify({ error: `mnist v1 is busy on ${name}`, code: 'overloaded' }));
    }
    req.resume();
    req.on('end', () =>
      setTimeout(() => {
        if (res.destroyed) return;
        stats.answered++;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ replica: name }));
      }, 5),
    );
  });
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    stats,
    become: (b: Behaviour) => {
      behaviour = b;
    },
    kill: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}

describe('the edge when a model replica dies', () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  const edgeOver = (urls: string[], timeoutMs = 2000, probeMs = 60_000) => {
    // The probe is far off unless a test says otherwise: marking a replica down must not wait for it.
    const pool = new ReplicaPool(urls, timeoutMs, probeMs);
    const app: FastifyInstance = buildEdge({ pool, metrics: createMetricsRegistry('edge'), logger, isReady: () => true });
    cleanup.push(() => pool.stop(), () => app.close());
    return { pool, app, predict: () => app.inject({ method: 'POST', url: '/predict', payload: { pixels: [0] } }) };
  };
  const load = async (total: number, concurrency: number, send: () => Promise<{ statusCode: number; headers: Record<string, unknown> }>, at?: { request: number; run: () => void | Promise<void> }) => {
    const answers: { status: number; replica: string; afterEvent: boolean }[] = [];
    let sent = 0;
    let happened = false;
    const worker = async () => {
      while (sent < total) {
        const i = sent++;
        if (at && i === at.request) {
          await at.run();
          happened = true;
        }
        const afterEvent = happened;
        const res = await send();
        answers.push({ status: res.statusCode, replica: String(res.headers['x-mlpipe-replica']), afterEvent });
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return answers;
  };

  it('a replica killed mid-load fails no request: those in flight and those after go to the other, and it is marked down at once', async () => {
    const a = await startReplica('a');
    const b = await startReplica('b');
    cleanup.push(a.kill, b.kill);
    const { pool, predict } = edgeOver([a.url, b.url]);
    let inFlightAtKill = 0;
    const answers = await load(400, 8, predict, {
      request: 120,
      run: async () => {
        // Kill while a holds requests (the other workers keep sending), so some are reset, not only refused.
        for (let turns = 0; a.stats.received === a.stats.answered && turns < 100_000; turns++) await new Promise((r) => setImmediate(r));
        inFlightAtKill = a.stats.received - a.stats.answered;
        a.kill();
      },
    });
    expect(answers).toHaveLength(400);
    expect(answers.filter((x) => x.status !== 200)).toEqual([]);
    expect(inFlightAtKill).toBeGreaterThan(0); // connections were reset under requests, not only refused
    expect(pool.healthyCount()).toBe(1); // by the failed requests themselves, long before the probe would run
    // After the kill, b answers everything (what started on a before it was found dead was retried on b).
    const late = answers.filter((x) => x.afterEvent).slice(8);
    expect(new Set(late.map((x) => x.replica))).toEqual(new Set([b.url]));
    expect(answers.filter((x) => x.replica === a.url).length).toBeGreaterThan(30);
  });

  it('two of three replicas killed at once (a node lost) still fail no request while the third is up', async () => {
    const [a, b, c] = await Promise.all([startReplica('a'), startReplica('b'), startReplica('c')]);
    cleanup.push(a.kill, b.kill, c.kill);
    const { pool, predict } = edgeOver([a.url, b.url, c.url]);
    const answers = await load(300, 8, predict, { request: 90, run: () => (a.kill(), b.kill()) });
    expect(answers.filter((x) => x.status !== 200)).toEqual([]);
    expect(pool.healthyCount()).toBe(1);
    expect(new Set(answers.filter((x) => x.afterEvent).slice(8).map((x) => x.replica))).toEqual(new Set([c.url]));
  });

  it('retries elsewhere when a replica resets connections or does not answer within the timeout', async () => {
    const resets = await startReplica('resets', 'reset');
    const hangs = await startReplica('hangs', 'hang');
    const good = await startReplica('good');
    cleanup.push(resets.kill, hangs.kill, good.kill);
    const { pool, predict } = edgeOver([resets.url, hangs.url, good.url], 300);
    const answers = await load(60, 4, predict);
    expect(answers.filter((x) => x.status !== 200)).toEqual([]);
    expect(new Set(answers.map((x) => x.replica))).toEqual(new Set([good.url]));
    expect(pool.healthyCount()).toBe(1);
    // Marked down after their first failure: each was tried about once, not once per request.
    expect(resets.stats.received).toBeLessThanOrEqual(4);
    expect(hangs.stats.received).toBeLessThanOrEqual(4);
  });

  it('the probe brings a restarted replica back into the rotation', async () => {
    const a = await startReplica('a');
    const b = await startReplica('b');
    cleanup.push(b.kill);
    const { pool, predict } = edgeOver([a.url, b.url], 2000, 200);
    a.kill();
    await load(10, 2, predict);
    expect(pool.healthyCount()).toBe(1);
    const again = await startReplica('a-again', 'answer', Number(new URL(a.url).port));
    cleanup.push(again.kill);
    await eventually(() => pool.healthyCount() === 2, 5000, 'the restarted replica healthy again');
    const answers = await load(20, 2, predict);
    expect(answers.filter((x) => x.status !== 200)).toEqual([]);
    expect(again.stats.answered).toBeGreaterThan(0);
  });

  it('with every replica gone, a request tries each once and answers 503 with the reasons; timeouts spend the one retry', async () => {
    const gone = await Promise.all([startReplica('a', 'reset'), startReplica('b', 'reset'), startReplica('c', 'reset')]);
    cleanup.push(...gone.map((r) => r.kill));
    const refused = await edgeOver(gone.map((r) => r.url)).predict();
    expect(refused.statusCode).toBe(503);
    expect(refused.json().error).toMatch(/no model replica could answer \((.*unreachable; ){2}.*unreachable\)/);
    expect(gone.map((r) => r.stats.received)).toEqual([1, 1, 1]);

    const hung = await Promise.all([startReplica('x', 'hang'), startReplica('y', 'hang'), startReplica('z', 'hang')]);
    cleanup.push(...hung.map((r) => r.kill));
    const started = Date.now();
    const timedOut = await edgeOver(hung.map((r) => r.url), 200).predict();
    expect(timedOut.statusCode).toBe(503);
    expect(Date.now() - started).toBeLessThan(3 * 200);
    expect(hung.reduce((n, r) => n + r.stats.received, 0)).toBe(2);
  });
});

describe('the edge when model replicas are overloaded (503 with Retry-After: a full batch queue)', () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  const edgeOver = (urls: string[]) => {
    // No probe within the test: whatever health a replica has is what the requests gave it.
    const pool = new ReplicaPool(urls, 2000, 60_000);
    const metrics = createMetricsRegistry('edge');
    const app: FastifyInstance = buildEdge({ pool, metrics, logger, isReady: () => true });
    cleanup.push(() => pool.stop(), () => app.close());
    return { pool, metrics, predict: () => app.inject({ method: 'POST', url: '/predict', payload: { pixels: [0] } }) };
  };

  it('sends the request on to a replica with room, and keeps the busy one healthy and in the rotation', async () => {
    const busy = await startReplica('busy', 'busy');
    const free = await startReplica('free');
    cleanup.push(busy.kill, free.kill);
    const { pool, predict } = edgeOver([busy.url, free.url]);
    const first = await Promise.all(Array.from({ length: 20 }, () => predict()));
    expect(first.map((r) => r.statusCode)).toEqual(Array(20).fill(200));
    expect(new Set(first.map((r) => r.headers['x-mlpipe-replica']))).toEqual(new Set([free.url]));
    expect(pool.healthyCount()).toBe(2); // a full queue is not "not ready"
    expect(busy.stats.received).toBeGreaterThanOrEqual(5); // still offered its share, not taken out after the first 503

    // Once it has room it answers again at once: no probe brings it back, because it never left.
    busy.become('answer');
    const after = await Promise.all(Array.from({ length: 20 }, () => predict()));
    expect(after.map((r) => r.statusCode)).toEqual(Array(20).fill(200));
    expect(after.filter((r) => r.headers['x-mlpipe-replica'] === busy.url).length).toBeGreaterThan(0);
  });

  it('with every replica overloaded, answers 503 with the soonest Retry-After and the replica\'s reason, having tried each once', async () => {
    const a = await startReplica('a', 'busy', 0, '3');
    const b = await startReplica('b', 'busy', 0, '2');
    cleanup.push(a.kill, b.kill);
    const { pool, metrics, predict } = edgeOver([a.url, b.url]);
    const res = await predict();
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.json()).toEqual({ error: 'mnist v1 is busy on b', code: 'overloaded' });
    expect([a.stats.received, b.stats.received]).toEqual([1, 1]);
    expect(pool.healthyCount()).toBe(2);
    expect(await metrics.getSingleMetricAsString('mlpipe_gateway_overloaded_total')).toMatch(/^mlpipe_gateway_overloaded_total\{[^}]*\} 1$/m);
  });

  it('one replica overloaded and the other gone: the caller is told to come back (503, Retry-After), and only the gone one is marked down', async () => {
    const busy = await startReplica('busy', 'busy');
    const gone = await startReplica('gone', 'reset');
    cleanup.push(busy.kill, gone.kill);
    const { pool, predict } = edgeOver([busy.url, gone.url]);
    const res = await predict();
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json().code).toBe('overloaded');
    expect(pool.healthyCount()).toBe(1);
    const again = await predict();
    expect(again.statusCode).toBe(503);
    expect(busy.stats.received).toBe(2);
  });
});
