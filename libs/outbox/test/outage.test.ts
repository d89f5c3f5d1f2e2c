import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { connectBus, ensureStreams, type Bus } from '@mlpipe/bus';
import { eventually } from '@mlpipe/common';
import type { EventData } from '@mlpipe/contracts';
import { createPool, migrate, withTransaction, type Pool } from '@mlpipe/db';
import { createTestBus, createTestDatabase, startNatsServer } from '@mlpipe/testing';
import { createOutbox, outboxMigration, startOutboxRelay, type OutboxRelay } from '../src';
import { startOwnPostgres } from '@mlpipe/testing';
import { storedEvents } from './streams';

// Outages of the servers a relay depends on: each test breaks a server of its own, never the shared ones.
const logger = pino({ level: 'silent' });
const SCHEMA = 'svc';
const outbox = createOutbox(SCHEMA, 'svc-test');
const alias = (version: number): EventData<'model.alias.changed'> => ({ modelName: 'mnist', alias: 'champion', version, previousVersion: null, reason: 'test', actor: 't' });
const enqueue = (pool: Pool, ...versions: number[]) =>
  withTransaction(pool, async (c) => {
    for (const v of versions) await outbox.enqueue(c, 'model.alias.changed', alias(v), `alias:${v}`);
  });
const gauge = async (metrics: Registry, name: string) => (await metrics.getSingleMetric(name)?.get())?.values[0]?.value;

describe('the outbox relay through outages', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('NATS down when the rows are written: they wait, then each reaches the stream once, in order', async () => {
    // Given a relay on a nats-server of the test's own, and PostgreSQL up throughout.
    const nats = await startNatsServer();
    cleanup.push(() => nats.dispose());
    const bus: Bus = await connectBus({ url: nats.url, name: 'outbox-outage', namespace: `t${randomBytes(5).toString('hex')}` });
    cleanup.push(() => bus.close());
    await ensureStreams(bus);
    const db = await createTestDatabase();
    cleanup.push(() => db.drop());
    const pool = await createPool(db.url);
    cleanup.push(() => pool.end());
    await migrate(pool, SCHEMA, [outboxMigration('001_outbox')]);
    const metrics = new Registry();
    const relay: OutboxRelay = startOutboxRelay({ pool, bus, schema: SCHEMA, logger, metrics, pollMs: 200 });
    cleanup.push(() => relay.stop());
    await enqueue(pool, 1);
    await eventually(async () => ((await storedEvents(bus, 'MODEL')).length === 1 ? true : undefined));

    // When NATS stops and three more events commit (one transaction each, as three requests would).
    await nats.stop();
    for (const v of [2, 3, 4]) await enqueue(pool, v);
    await new Promise((r) => setTimeout(r, 2000));

    // Then they wait in the table, counted by the gauge, none marked.
    const waiting = await pool.query<{ n: number }>(`select count(*)::int as n from svc.outbox where published_at is null`);
    expect(waiting.rows[0]?.n).toBe(3);
    expect(await gauge(metrics, 'mlpipe_outbox_pending_events')).toBe(3);
    expect(await gauge(metrics, 'mlpipe_outbox_oldest_pending_seconds')).toBeGreaterThan(1);

    // And once NATS is back (store kept), each is in the stream exactly once, in commit order.
    const back = Date.now();
    await nats.start();
    await eventually(async () => ((await gauge(metrics, 'mlpipe_outbox_pending_events')) === 0 ? true : undefined), 20_000, 'the outbox drained');
    const healedMs = Date.now() - back;
    const stored = await storedEvents(bus, 'MODEL');
    expect(stored.map((s) => s.msgId)).toEqual(['alias:1', 'alias:2', 'alias:3', 'alias:4']);
    expect(healedMs).toBeLessThan(5000); // the reconnect wakes the relay; it does not sit out its backoff
    console.info(`outbox: 3 events written during a NATS outage reached the stream ${healedMs} ms after the server was back`);
  });

  it('PostgreSQL restarted under a running relay: it neither crashes nor stops, and relays what commits next', async () => {
    const pg = await startOwnPostgres();
    cleanup.push(() => pg.dispose());
    const pool = await createPool(pg.url);
    cleanup.push(() => pool.end());
    await migrate(pool, SCHEMA, [outboxMigration('001_outbox')]);
    const bus = await createTestBus();
    cleanup.push(() => bus.dispose());
    const metrics = new Registry();
    // A long poll: after the restart only a reconnected listener (or the backoff's retries) can wake it quickly.
    const relay = startOutboxRelay({ pool, bus, schema: SCHEMA, logger, metrics, pollMs: 60_000 });
    cleanup.push(() => relay.stop());
    await new Promise((r) => setTimeout(r, 300));
    await enqueue(pool, 1);
    await eventually(async () => ((await storedEvents(bus, 'MODEL')).length === 1 ? true : undefined));

    // When PostgreSQL goes away for three seconds (connections cut), then comes back.
    await pg.stop();
    await new Promise((r) => setTimeout(r, 3000));
    await pg.start();

    // Then an event committed after the restart is relayed within a few seconds; nothing was lost or doubled.
    const t = Date.now();
    await eventually(() => enqueue(pool, 2).then(() => true, () => undefined), 10_000, 'a write after the restart');
    await eventually(async () => ((await storedEvents(bus, 'MODEL')).length === 2 ? true : undefined), 10_000, 'the event after the restart');
    const relayedMs = Date.now() - t;
    expect((await storedEvents(bus, 'MODEL')).map((s) => s.msgId)).toEqual(['alias:1', 'alias:2']);
    expect(relayedMs).toBeLessThan(3000);
    console.info(`outbox: first event after a PostgreSQL restart relayed in ${relayedMs} ms`);
  });
});
