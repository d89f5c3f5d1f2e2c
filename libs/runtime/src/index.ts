export * from './httpErrors';
