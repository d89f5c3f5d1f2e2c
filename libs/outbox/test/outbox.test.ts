import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { publishEvent } from '@mlpipe/bus';
import { ValidationError, eventually } from '@mlpipe/common';
import type { EventData } from '@mlpipe/contracts';
import { createPool, migrate, withTransaction, type Pool } from '@mlpipe/db';
import { createTestBus, createTestDatabase, type TestBus } from '@mlpipe/testing';
import { createOutbox, outboxMigration, startOutboxRelay, type OutboxRelay, type RelayOptions, type RelayedEvent } from '../src';
import { storedEvents } from './streams';

const logger = pino({ level: 'silent' });
const SCHEMA = 'svc';
const outbox = createOutbox(SCHEMA, 'svc-test');
const alias = (version: number): EventData<'model.alias.changed'> => ({ modelName: 'mnist', alias: 'champion', version, previousVersion: null, reason: 'test', actor: 't' });

type Row = { id: string; event_id: string; published_at: Date | null; attempts: number; last_error: string | null; parked_at: Date | null };

describe('the outbox on real PostgreSQL and NATS', () => {
  let bus: TestBus;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;
  const relays: OutboxRelay[] = [];

  const relay = (opts: Partial<RelayOptions> = {}) => {
    const r = startOutboxRelay({ pool, bus, schema: SCHEMA, logger, metrics: new Registry(), ...opts });
    relays.push(r);
    return r;
  };
  const enqueue = (...versions: number[]) =>
    withTransaction(pool, async (c) => {
      for (const v of versions) await outbox.enqueue(c, 'model.alias.changed', alias(v), `alias:${v}`);
    });
  const rows = async () => (await pool.query<Row>(`select * from ${SCHEMA}.outbox order by id`)).rows;
  const published = (n: number) => eventually(async () => ((await rows()).filter((r) => r.published_at).length >= n ? true : undefined), 10_000, `${n} published rows`);

  beforeEach(async () => {
    bus = await createTestBus();
    db = await createTestDatabase();
    pool = await createPool(db.url);
    await migrate(pool, SCHEMA, [outboxMigration('001_outbox')]);
  });
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.stop()));
    await bus.dispose();
    await pool.end();
    await db.drop();
  });

  it('publishes a committed event once, with its event id as message id, woken by NOTIFY', async () => {
    // Given a relay that would poll only once a minute: only the notification can wake it.
    relay({ pollMs: 60_000 });
    await new Promise((r) => setTimeout(r, 300)); // its first pass, on an empty table, is over
    const committed = Date.now();
    await enqueue(1);
    const [stored] = await eventually(async () => {
      const s = await storedEvents(bus, 'MODEL');
      return s.length ? s : undefined;
    }, 5000, 'the event in the stream');
    const latencyMs = Date.now() - committed;
    expect(latencyMs).toBeLessThan(1000);
    expect(stored).toMatchObject({ msgId: 'alias:1', envelope: { type: 'model.alias.changed', eventId: 'alias:1', source: 'svc-test', data: alias(1) } });
    await published(1);
    expect(await rows()).toMatchObject([{ event_id: 'alias:1', attempts: 1, last_error: null }]);
    await new Promise((r) => setTimeout(r, 300));
    expect(await storedEvents(bus, 'MODEL')).toHaveLength(1);
  });

  it('a rolled-back transaction publishes nothing; the next committed one goes out', async () => {
    relay({ pollMs: 100 });
    await expect(
      withTransaction(pool, async (c) => {
        await outbox.enqueue(c, 'model.alias.changed', alias(1), 'alias:1');
        throw new Error('the row change failed');
      }),
    ).rejects.toThrow(/the row change failed/);
    await enqueue(2);
    await published(1);
    await new Promise((r) => setTimeout(r, 300)); // several polls: the rolled-back one would have shown by now
    expect((await storedEvents(bus, 'MODEL')).map((s) => s.msgId)).toEqual(['alias:2']);
    expect((await rows()).map((r) => r.event_id)).toEqual(['alias:2']);
  });

  it('refuses an invalid event at enqueue, failing the transaction, and keeps the first of two equal ids', async () => {
    await pool.query('create table svc.things (id int primary key)');
    const bad = withTransaction(pool, async (c) => {
      await c.query('insert into svc.things values (1)');
      await outbox.enqueue(c, 'model.alias.changed', { ...alias(1), version: -1 }, 'alias:bad');
    });
    await expect(bad).rejects.toBeInstanceOf(ValidationError);
    await expect(bad).rejects.toThrow(/refusing to enqueue an invalid model.alias.changed: .*version/);
    expect((await pool.query('select * from svc.things')).rowCount).toBe(0);
    await expect(withTransaction(pool, (c) => outbox.enqueue(c, 'model.alias.changed', alias(1), 'x'.repeat(257)))).rejects.toThrow(/eventId/);

    const first = await withTransaction(pool, (c) => outbox.enqueue(c, 'model.alias.changed', alias(1), 'alias:same'));
    const second = await withTransaction(pool, (c) => outbox.enqueue(c, 'model.alias.changed', alias(2), 'alias:same'));
    expect([first, second]).toEqual([true, false]);
    expect((await pool.query(`select data->>'version' as v from svc.outbox`)).rows).toEqual([{ v: '1' }]);
  });

  it('publishes rows written before it started, in id order, in batches', async () => {
    const versions = Array.from({ length: 25 }, (_, i) => i + 1);
    await enqueue(...versions);
    const metrics = new Registry();
    relay({ batchSize: 10, metrics });
    await published(25);
    expect((await storedEvents(bus, 'MODEL')).map((s) => s.msgId)).toEqual(versions.map((v) => `alias:${v}`));
    const counter = await metrics.getSingleMetric('mlpipe_outbox_published_total')?.get();
    expect(counter?.values).toEqual([{ labels: { schema: SCHEMA, type: 'model.alias.changed' }, value: 25 }]);
    await eventually(async () => ((await metrics.getSingleMetric('mlpipe_outbox_pending_events')?.get())?.values[0]?.value === 0 ? true : undefined));
  });

  it('a relay whose connection dies between publish and mark publishes again: one message in the stream', async () => {
    // Given a publish that reaches JetStream and then loses the relay's PostgreSQL connection
    // (its backend terminated, as a crash would), so the row is never marked.
    const acks: boolean[] = [];
    let killed = false;
    relay({
      pollMs: 100,
      publish: async (e: RelayedEvent) => {
        const ack = await publishEvent(bus, e.type, e.data as EventData<'model.alias.changed'>, { source: e.source, eventId: e.eventId });
        acks.push(ack.duplicate);
        if (killed) return;
        killed = true;
        await pool.query(`select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory' and granted and pid <> pg_backend_pid() and database = (select oid from pg_database where datname = current_database())`);
      },
    });
    await enqueue(1);
    await published(1);
    // Then it was published twice, the second time as a duplicate JetStream dropped.
    expect(acks).toEqual([false, true]);
    expect((await storedEvents(bus, 'MODEL')).map((s) => s.msgId)).toEqual(['alias:1']);
    expect((await rows())[0]).toMatchObject({ attempts: 1, last_error: null });
  });

  it('a failing publish is retried with backoff until it goes through, recording the last error', async () => {
    let calls = 0;
    const metrics = new Registry();
    relay({
      pollMs: 100,
      metrics,
      publish: async (e) => {
        if (++calls <= 2) throw new Error(`no answer ${calls}`);
        await publishEvent(bus, e.type, e.data as EventData<'model.alias.changed'>, { source: e.source, eventId: e.eventId });
      },
    });
    await enqueue(1, 2);
    const start = Date.now();
    await eventually(async () => ((await rows())[0]?.attempts === 2 ? true : undefined));
    expect((await rows())[0]).toMatchObject({ published_at: null, last_error: 'no answer 2' });
    expect((await rows())[1]).toMatchObject({ published_at: null, attempts: 0 }); // it waits behind the first: order is kept
    await published(2);
    expect(Date.now() - start).toBeGreaterThanOrEqual(250 + 500 - 100); // two backoffs: 250 ms, then 500 ms
    expect((await storedEvents(bus, 'MODEL')).map((s) => s.msgId)).toEqual(['alias:1', 'alias:2']);
    expect((await rows())[0]).toMatchObject({ attempts: 3, last_error: null });
    expect((await metrics.getSingleMetric('mlpipe_outbox_publish_errors_total')?.get())?.values[0]?.value).toBe(2);
  });

  it('two relays of one schema publish every row once and in order', async () => {
    const calls: string[] = [];
    const publish = async (e: RelayedEvent) => {
      calls.push(e.eventId);
      await publishEvent(bus, e.type, e.data as EventData<'model.alias.changed'>, { source: e.source, eventId: e.eventId });
    };
    relay({ pollMs: 20, batchSize: 5, publish });
    relay({ pollMs: 20, batchSize: 5, publish });
    const versions = Array.from({ length: 60 }, (_, i) => i + 1);
    for (const v of versions) await enqueue(v); // one transaction each, so both relays are woken many times
    await published(60);
    // Counted at the publish, not in the stream: JetStream's de-duplication would hide a double publish.
    expect(calls).toEqual(versions.map((v) => `alias:${v}`));
    expect((await storedEvents(bus, 'MODEL')).map((s) => s.msgId)).toEqual(calls);
  });

  it('parks a row the catalogue refuses at relay time; the rows behind it still go out', async () => {
    // Given a row written by an older release whose schema has changed since (inserted by hand here).
    await pool.query(`insert into svc.outbox (event_type, event_id, data, source) values ('model.alias.changed', 'old', '{"modelName":"mnist"}', 'svc-test'), ('model.gone', 'gone', '{}', 'svc-test')`);
    await enqueue(1);
    const metrics = new Registry();
    relay({ pollMs: 100, metrics });
    await published(1);
    const [old, gone, ok] = await rows();
    expect(old).toMatchObject({ published_at: null, attempts: 1, last_error: expect.stringMatching(/refusing to publish an invalid model.alias.changed/) });
    expect(old?.parked_at).toBeInstanceOf(Date);
    expect(gone).toMatchObject({ published_at: null, last_error: 'model.gone is not in the event catalogue' });
    expect(ok?.published_at).toBeInstanceOf(Date);
    expect((await storedEvents(bus, 'MODEL')).map((s) => s.msgId)).toEqual(['alias:1']);
    expect((await metrics.getSingleMetric('mlpipe_outbox_parked_total')?.get())?.values[0]?.value).toBe(2);
  });

  it('polls for rows no notification announced', async () => {
    relay({ pollMs: 200 });
    await new Promise((r) => setTimeout(r, 100));
    // A row committed without pg_notify (as if the notification was lost).
    await pool.query(`insert into svc.outbox (event_type, event_id, data, source) values ('model.alias.changed', 'quiet', $1, 'svc-test')`, [alias(7)]);
    await published(1);
    expect((await storedEvents(bus, 'MODEL')).map((s) => s.msgId)).toEqual(['quiet']);
  });

  it('prunes rows published longer ago than the retention, never unpublished or parked ones', async () => {
    await pool.query(`insert into svc.outbox (event_type, event_id, data, source, published_at) values ('model.alias.changed', 'ancient', '{}', 's', now() - interval '2 days'), ('model.alias.changed', 'recent', '{}', 's', now() - interval '1 hour')`);
    await pool.query(`insert into svc.outbox (event_type, event_id, data, source, parked_at, created_at) values ('model.alias.changed', 'parked', '{}', 's', now(), now() - interval '3 days')`);
    relay({ pollMs: 100 });
    await eventually(async () => ((await rows()).some((r) => r.event_id === 'ancient') ? undefined : true));
    expect((await rows()).map((r) => r.event_id)).toEqual(['recent', 'parked']);
  });

  it('stops promptly and cleanly, and a new relay carries on from the table', async () => {
    const first = relay({ pollMs: 60_000 });
    await new Promise((r) => setTimeout(r, 200));
    const t = Date.now();
    await first.stop();
    await first.stop(); // idempotent
    expect(Date.now() - t).toBeLessThan(500);
    await enqueue(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(await storedEvents(bus, 'MODEL')).toHaveLength(0);
    relay({ pollMs: 100 });
    await published(1);
    expect(await storedEvents(bus, 'MODEL')).toHaveLength(1);
  });
});
