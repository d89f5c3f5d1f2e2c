import { ROOT_CONTEXT, context, propagation } from '@opentelemetry/api';
import { EVENTS, type EventType } from '@mlpipe/contracts';
import { ValidationError, describeError } from '@mlpipe/common';
import type { Pool, PoolClient } from '@mlpipe/db';
import type { RelayMetrics } from './metrics';
import type { OutboxNames } from './names';

/** An outbox row on its way to JetStream. */
export interface RelayedEvent {
  type: EventType;
  data: unknown;
  eventId: string;
  source: string;
}

/** Publishes one event (publishEvent with the row's id as message id, unless a test injects another). */
export type PublishFn = (event: RelayedEvent) => Promise<void>;

/**
 * How one pass ended: `more` (a full batch went out: go again), `idle` (nothing waits, or another
 * relay of the schema holds the lock), or `failed` (NATS refused a publish; the rest waits).
 * A PostgreSQL failure throws.
 */
export type RoundOutcome = { kind: 'more' | 'idle'; published: number } | { kind: 'failed'; published: number; err: unknown };

type Row = { id: string; event_type: string; event_id: string; data: unknown; source: string; trace: Record<string, string> };

export interface RoundDeps {
  pool: Pool;
  names: OutboxNames;
  publish: PublishFn;
  metrics: RelayMetrics;
  batchSize: number;
  /** Checked between rows, so stop() does not wait for a whole batch. */
  stopping: () => boolean;
}

/**
 * One pass: under the schema's advisory lock (so two relays never interleave and ids go out in
 * order), publishes up to a batch of unpublished rows oldest first, marks those that went out, and
 * commits. A relay that dies between a publish and the commit leaves the row unpublished: the next
 * pass publishes it again with the same message id, and JetStream keeps one (within its 10-minute
 * duplicate window).
 */
export async function relayRound(d: RoundDeps): Promise<RoundOutcome> {
  const client = await d.pool.connect();
  // The connection may drop while we wait on NATS inside the transaction: pg then emits 'error' on a
  // checked-out client, which would crash the process without a listener. The next query fails instead.
  const swallow = () => undefined;
  client.on('error', swallow);
  let broken: Error | undefined;
  try {
    await client.query('begin');
    const lock = await client.query<{ locked: boolean }>('select pg_try_advisory_xact_lock(hashtext($1)) as locked', [d.names.lockKey]);
    if (!lock.rows[0]?.locked) {
      await client.query('commit');
      return { kind: 'idle', published: 0 };
    }
    const { rows } = await client.query<Row>(
      `select id, event_type, event_id, data, source, trace from ${d.names.table}
       where published_at is null and parked_at is null order by id limit $1`,
      [d.batchSize],
    );
    const outcome = await publishRows(client, rows, d);
    await client.query('commit');
    return outcome;
  } catch (err) {
    broken = err instanceof Error ? err : new Error(String(err));
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    client.removeListener('error', swallow);
    client.release(broken); // a client that failed is discarded, not returned to the pool
  }
}

async function publishRows(client: PoolClient, rows: Row[], d: RoundDeps): Promise<RoundOutcome> {
  const published: Row[] = [];
  // Marked together at the end of the pass (one statement, same transaction: the same crash semantics).
  const mark = async (): Promise<number> => {
    if (!published.length) return 0;
    await client.query(`update ${d.names.table} set published_at = now(), attempts = attempts + 1, last_error = null where id = any($1::bigint[])`, [published.map((r) => r.id)]);
    for (const r of published) d.metrics.published.inc({ schema: d.names.schema, type: r.event_type });
    return published.length;
  };
  for (const row of rows) {
    if (d.stopping()) return { kind: 'idle', published: await mark() };
    try {
      if (!(row.event_type in EVENTS)) throw new ValidationError(`${row.event_type} is not in the event catalogue`);
      const event: RelayedEvent = { type: row.event_type as EventType, data: row.data, eventId: row.event_id, source: row.source };
      await context.with(propagation.extract(ROOT_CONTEXT, row.trace), () => d.publish(event));
      published.push(row);
    } catch (err) {
      if (err instanceof ValidationError) {
        await client.query(`update ${d.names.table} set parked_at = now(), attempts = attempts + 1, last_error = $2 where id = $1`, [row.id, describeError(err)]);
        d.metrics.parked.inc({ schema: d.names.schema });
        continue;
      }
      await client.query(`update ${d.names.table} set attempts = attempts + 1, last_error = $2 where id = $1`, [row.id, describeError(err)]);
      return { kind: 'failed', published: await mark(), err };
    }
  }
  return { kind: rows.length === d.batchSize ? 'more' : 'idle', published: await mark() };
}

/** Sets the pending-rows and oldest-age gauges from the table. */
export async function refreshGauges(pool: Pool, names: OutboxNames, metrics: RelayMetrics): Promise<number> {
  const { rows } = await pool.query<{ pending: number; oldest: number | null }>(
    `select count(*)::int as pending, extract(epoch from now() - min(created_at))::float8 as oldest
     from ${names.table} where published_at is null and parked_at is null`,
  );
  const pending = rows[0]?.pending ?? 0;
  metrics.pending.set({ schema: names.schema }, pending);
  metrics.oldestPendingSeconds.set({ schema: names.schema }, rows[0]?.oldest ?? 0);
  return pending;
}

/** Deletes rows published longer ago than `retainMs`; unpublished and parked rows are never deleted. */
export async function prunePublished(pool: Pool, names: OutboxNames, retainMs: number): Promise<number> {
  const { rowCount } = await pool.query(`delete from ${names.table} where published_at < now() - make_interval(secs => $1)`, [retainMs / 1000]);
  return rowCount ?? 0;
}
