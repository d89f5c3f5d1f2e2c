// Test support shared by every workspace's tests and benchmarks: real servers with isolated names
// (a NATS namespace, a PostgreSQL database, an S3 API), a nats-server of a test's own to break, real
// data (MNIST) and a live registry.
// Test-only: nothing under a src/ folder may import it (libs/testing/test/boundary.test.ts), and no
// other lib's index exports test helpers.
export * from './bus';
export * from './database';
export * from './s3';
export * from './events';
export * from './mnist';
export * from './liveRegistry';
export * from './natsServer';
export * from './ownPostgres';
export * from './imageBombs';
