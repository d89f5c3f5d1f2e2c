import { context, propagation } from '@opentelemetry/api';
import { EVENTS, parseEnvelope, type EventData, type EventType } from '@mlpipe/contracts';
import { ValidationError } from '@mlpipe/common';
import type { PoolClient } from '@mlpipe/db';
import { outboxNames, type OutboxNames } from './names';

/** One service's outbox: where it writes the events its transactions make true. */
export interface Outbox {
  readonly schema: string;
  readonly source: string;
  /**
   * Adds an event on the caller's transaction (pass the client the row change runs on): it is
   * published once, and only if, that transaction commits. Validated against the catalogue here, so
   * a bad event fails the transaction, not the relay. Resolves false when an event with this id is
   * already in the outbox (the first one is kept: give ids that name what happened).
   */
  enqueue<T extends EventType>(client: PoolClient, type: T, data: EventData<T>, eventId: string): Promise<boolean>;
}

export function createOutbox(schema: string, source: string): Outbox {
  const names = outboxNames(schema);
  return {
    schema,
    source,
    enqueue: (client, type, data, eventId) => enqueueEvent(client, names, { type, data, eventId, source }),
  };
}

interface OutboxEvent<T extends EventType> {
  type: T;
  data: EventData<T>;
  eventId: string;
  source: string;
}

async function enqueueEvent<T extends EventType>(client: PoolClient, names: OutboxNames, e: OutboxEvent<T>): Promise<boolean> {
  const envelope = { type: e.type, schemaVersion: EVENTS[e.type].version, eventId: e.eventId, occurredAt: new Date().toISOString(), source: e.source, data: e.data };
  const parsed = parseEnvelope(e.type, envelope);
  if (!parsed.ok) throw new ValidationError(`refusing to enqueue an invalid ${e.type}: ${parsed.reason}`);
  const trace: Record<string, string> = {};
  propagation.inject(context.active(), trace);
  // The notification is delivered at commit (never on rollback), so a relay wakes for committed rows only.
  const { rowCount } = await client.query(
    `with added as (
       insert into ${names.table} (event_type, event_id, data, source, trace) values ($1, $2, $3, $4, $5)
       on conflict (event_id) do nothing returning id)
     select pg_notify($6, '') from added`,
    [e.type, e.eventId, JSON.stringify(parsed.envelope.data), e.source, trace, names.channel],
  );
  return (rowCount ?? 0) > 0;
}
