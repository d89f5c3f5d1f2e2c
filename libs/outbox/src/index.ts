// The transactional outbox: a service enqueues events on the transaction that changes its rows
// (createOutbox(...).enqueue), and a relay publishes them to JetStream once committed
// (startOutboxRelay). The table is one of the service's own migrations (outboxMigration).
export * from './migration';
export * from './enqueue';
export * from './relay';
export type { PublishFn, RelayedEvent } from './round';
