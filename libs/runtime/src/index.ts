// The process side of every service: start-up and teardown (runService), logger, metrics registry,
// ops endpoints, telemetry, the HTTP error mapping. Pure code imports @mlpipe/common instead.
export * from './httpErrors';
export * from './logger';
export * from './metrics';
export * from './ops';
export * from './ports';
export * from './probes';
export * from './shutdown';
export * from './startupWait';
export * from './telemetry';
export * from './runService';
