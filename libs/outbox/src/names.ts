import { ValidationError } from '@mlpipe/common';

/** The names one service's outbox goes by, all derived from the PostgreSQL schema the service owns. */
export interface OutboxNames {
  schema: string;
  /** `<schema>.outbox` */
  table: string;
  /** The LISTEN/NOTIFY channel; channels are per database, so each schema needs its own. */
  channel: string;
  /** The advisory lock one relay of the schema holds while it publishes, keeping id order. */
  lockKey: string;
}

export function outboxNames(schema: string): OutboxNames {
  // Interpolated into SQL as an identifier: only what migrate() accepts as a schema name.
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new ValidationError(`bad outbox schema name ${JSON.stringify(schema)}`);
  return { schema, table: `${schema}.outbox`, channel: `mlpipe_outbox_${schema}`, lockKey: `mlpipe-outbox-${schema}` };
}
