// The pure part of mlpipe's shared code: the error hierarchy, polling, a seedable PRNG, the logger
// type, the size an image header declares, typed arrays as plain ones. Nothing here loads fastify,
// the OpenTelemetry SDK or a client, so core/ code may import it.
export * from './errors';
export * from './logger';
export * from './eventually';
export * from './random';
export * from './retry';
export * from './imageHeader';
export * from './arrays';
