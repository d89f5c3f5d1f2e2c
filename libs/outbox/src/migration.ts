import type { Migration } from '@mlpipe/db';

/**
 * The outbox table, as one of a service's own migrations (migrate() runs it with the service's
 * schema as search path, so the table lands in that schema). Give it the service's next id.
 *
 * `event_id` is unique: enqueueing an id twice keeps the first row, and it is also the JetStream
 * message id, so a row published twice (a relay stopped between publish and mark) is stored once.
 * `trace` carries the W3C context of the enqueueing span, so the relayed publish joins its trace.
 * `parked_at` sets aside a row the catalogue refuses at relay time (its schema changed since it was
 * enqueued): it is kept for a person, never dropped, and no longer blocks the rows behind it.
 */
export function outboxMigration(id: string): Migration {
  return {
    id,
    sql: `
      create table outbox (
        id bigserial primary key,
        event_type text not null,
        event_id text not null unique,
        data jsonb not null,
        source text not null,
        trace jsonb not null default '{}',
        created_at timestamptz not null default now(),
        published_at timestamptz,
        attempts int not null default 0,
        last_error text,
        parked_at timestamptz
      );
      create index outbox_pending on outbox (id) where published_at is null and parked_at is null;
      create index outbox_published on outbox (published_at) where published_at is not null;
    `,
  };
}
