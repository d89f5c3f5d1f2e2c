import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectBus, streamNameOf, type Bus } from '@mlpipe/bus';
import { createPool } from '@mlpipe/db';
import { eventually } from '@mlpipe/common';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import type { Envelope } from '@mlpipe/contracts';
import { createObjectStore } from '@mlpipe/storage';
import { createTestDatabase, startNatsServer } from '@mlpipe/testing';
import { startRegistry } from '../src/service';
import { completed, putArtefacts } from './fixtures';

const logger = createLogger('registry-outbox-test', 'silent');

/** The MODEL stream's messages as the server stores them: message id and envelope. */
async function modelStream(bus: Bus): Promise<{ msgId: string; envelope: Envelope }[]> {
  const name = streamNameOf(bus.namespace, 'MODEL');
  const { state } = await bus.jsm.streams.info(name);
  const out: { msgId: string; envelope: Envelope }[] = [];
  for (let seq = state.first_seq; state.messages && seq <= state.last_seq; seq++) {
    const m = await bus.jsm.streams.getMessage(name, { seq });
    if (m) out.push({ msgId: m.header.get('Nats-Msg-Id'), envelope: m.json<Envelope>() });
  }
  return out;
}

describe('registry events through the outbox while NATS is down', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('registers and promotes during an outage, answers with the committed move, and announces each once NATS is back', async () => {
    // Given a registry on a nats-server of the test's own.
    const nats = await startNatsServer();
    cleanup.push(() => nats.dispose());
    const bus = await connectBus({ url: nats.url, name: 'registry-outbox', namespace: `t${randomBytes(5).toString('hex')}` });
    cleanup.push(() => bus.close());
    const db = await createTestDatabase();
    cleanup.push(() => db.drop());
    const pool = await createPool(db.url);
    cleanup.push(() => pool.end());
    const root = await mkdtemp(join(tmpdir(), 'mlpipe-reg-outbox-'));
    cleanup.push(() => rm(root, { recursive: true, force: true }));
    const store = createObjectStore({ kind: 'fs', root });
    const registry = await startRegistry({ config: { GATE_MARGIN: 0.002, GATE_CLASS_FLOOR: 0.9 }, bus, pool, store, logger, metrics: createMetricsRegistry('registry') });
    cleanup.push(() => registry.app.close());
    cleanup.push(() => registry.stop());

    // When NATS stops, two completions are registered (as redelivered ones would be once it is back)
    // and v2 is promoted by hand.
    await nats.stop();
    await putArtefacts(store, 'job-1');
    await putArtefacts(store, 'job-2');
    await registry.registrar.register(completed('job-1', 0.97));
    await registry.registrar.register(completed('job-2', 0.95));
    const { token } = await registry.tokens.create('bob', 'admin');
    const res = await registry.app.inject({ method: 'POST', url: '/models/mnist/aliases/champion', headers: { authorization: `Bearer ${token}` }, payload: { version: 2, reason: 'during the outage' } });

    // Then the reply is the committed move (the publish no longer stands between them)...
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ modelName: 'mnist', alias: 'champion', version: 2, previousVersion: 1, actor: 'bob' });
    expect((await registry.app.inject({ method: 'GET', url: '/models/mnist/aliases/champion' })).json().version).toBe(2);
    const waiting = await pool.query<{ n: number }>('select count(*)::int as n from registry.outbox where published_at is null');
    expect(waiting.rows[0]?.n).toBe(5);

    // ...and once NATS is back, the five events are in the stream once each, in the order they committed.
    await nats.start();
    const stored = await eventually(async () => {
      const s = await modelStream(bus).catch(() => []); // a request may time out while the client reconnects
      return s.length >= 5 ? s : undefined;
    }, 20_000, 'the registry events in the stream');
    expect(stored.map((s) => s.msgId)).toEqual([
      'model.version.registered:mnist:1',
      'model.alias.changed:mnist:champion:1:gate',
      'model.version.registered:mnist:2',
      'model.alias.changed:mnist:challenger:2:gate',
      expect.stringMatching(/^model\.alias\.changed:mnist:champion:2:/),
    ]);
    expect(stored.at(-1)?.envelope).toMatchObject({ type: 'model.alias.changed', source: 'registry', data: { version: 2, previousVersion: 1, actor: 'bob' } });
    expect(stored.map((s) => s.envelope.eventId)).toEqual(stored.map((s) => s.msgId));

    // A redelivered completion replays its registration: nothing new is enqueued or stored.
    await registry.registrar.register(completed('job-1', 0.97));
    await new Promise((r) => setTimeout(r, 1500));
    expect(await modelStream(bus)).toHaveLength(5);
    expect((await pool.query('select 1 from registry.outbox')).rowCount).toBe(5);
  });
});
