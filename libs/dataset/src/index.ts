export * from './idx';
