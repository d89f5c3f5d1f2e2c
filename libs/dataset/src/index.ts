export * from './types';
export * from './idx';
export * from './hash';
export * from './png';
export * from './validate';
export * from './incoming';
export * from './normalised';
export * from './seed';
