import Fastify from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { BaseConfigSchema } from '@mlpipe/config';
import type { Bus } from '@mlpipe/bus';
import { registerOpsRoutes, runService, type RunningService, type ServiceContext } from '@mlpipe/runtime';

const Schema = BaseConfigSchema.extend({ HTTP_PORT: z.coerce.number().int().default(0) });
const env = { HTTP_PORT: '0', LOG_LEVEL: 'silent' as const, NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' };

/** A tiny service with its own app (so readiness can be asked with inject) that records what happens. */
function probe() {
  const events: string[] = [];
  let ctx: ServiceContext<unknown, 'bus' | 'http'> | undefined;
  const app = Fastify({ logger: false });
  const readyz = async () => (app.server.listening ? (await app.inject({ method: 'GET', url: '/readyz' })).statusCode : 0);
  const start = async (c: ServiceContext<unknown, 'bus' | 'http'>, extra: Partial<RunningService> = {}): Promise<RunningService> => {
    ctx = c;
    registerOpsRoutes(app, { metrics: c.metrics, isReady: c.isReady });
    return {
      app,
      stop: () => void events.push(`stop: ready ${c.isReady()}, http closed ${app.server.listening === false}, nats closed ${c.bus.nc.isClosed()}`),
      ...extra,
    };
  };
  return { events, readyz, start, bus: (): Bus => ctx!.bus };
}

describe('runService', () => {
  afterEach(() => vi.restoreAllMocks());

  it('becomes ready after start, then on stop turns not-ready first and tears down in order, once', async () => {
    const p = probe();
    let requestStop!: () => void;
    const stop = new Promise<void>((r) => (requestStop = r));
    const exits: number[] = [];
    const run = runService(
      { name: 'probe', configSchema: Schema, needs: ['bus', 'http'], start: (c) => p.start(c) },
      { env, argv: [], signals: false, stop, exit: (c) => exits.push(c) },
    );
    await vi.waitFor(async () => expect(await p.readyz()).toBe(200), { timeout: 10_000 });
    requestStop();
    expect(await run).toBe(0);
    expect(exits).toEqual([0]);
    expect(p.events).toEqual(['stop: ready false, http closed true, nats closed false']);
    expect(p.bus().nc.isClosed()).toBe(true);
  });

  it('runs a one-shot mode to its exit code, parsing the command line, then tears down', async () => {
    const p = probe();
    const exits: number[] = [];
    const code = await runService(
      {
        name: 'probe',
        configSchema: Schema,
        needs: ['bus', 'http'],
        args: { 'job-id': { type: 'string' } },
        start: (c) => p.start(c, { done: Promise.resolve(c.args['job-id'] === 'j1' ? 3 : 0) }),
      },
      { env, argv: ['--job-id', 'j1'], signals: false, exit: (c) => exits.push(c) },
    );
    expect([code, exits]).toEqual([3, [3]]);
    expect(p.events).toHaveLength(1);
    expect(p.bus().nc.isClosed()).toBe(true);
  });

  it('exits 1 naming the service and the problem: bad config, unknown flag, failed start-up (torn down)', async () => {
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
    const exits: number[] = [];
    const hooks = { signals: false, exit: (c: number) => exits.push(c) };
    const start = async (): Promise<RunningService> => ({});
    await runService({ name: 'probe', configSchema: Schema, needs: [], start }, { ...hooks, env: { ...env, HTTP_PORT: 'x' }, argv: [] });
    await runService({ name: 'probe', configSchema: Schema, needs: [], start }, { ...hooks, env, argv: ['--nope'] });
    let bus: Bus | undefined;
    await runService(
      { name: 'probe', configSchema: Schema, needs: ['bus', 'http'], start: async (c) => { bus = c.bus; throw new Error('no model store'); } },
      { ...hooks, env, argv: [] },
    );
    expect(exits).toEqual([1, 1, 1]);
    expect(errors).toEqual([expect.stringMatching(/^probe: invalid configuration: .*HTTP_PORT/), expect.stringMatching(/^probe: .*--nope/), 'probe: no model store']);
    expect(bus?.nc.isClosed()).toBe(true);
  });
});
