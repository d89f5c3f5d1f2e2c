export * from './errors';
export * from './logger';
export * from './shutdown';
export * from './metrics';
export * from './ops';
export * from './telemetry';
export * from './eventually';
export * from './random';
