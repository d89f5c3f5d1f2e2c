import { FsObjectStore } from './fsStore';
import { S3ObjectStore } from './s3Store';
import type { ObjectStore, StoreConfig } from './types';

export * from './types';
export * from './keys';
export * from './json';
export * from './watch';
export { FsObjectStore, S3ObjectStore };

export function createObjectStore(cfg: StoreConfig): ObjectStore {
  return cfg.kind === 'fs' ? new FsObjectStore(cfg.root) : new S3ObjectStore(cfg);
}
export * from './patient';
