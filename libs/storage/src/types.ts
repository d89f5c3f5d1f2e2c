export interface ObjectInfo {
  key: string;
  size: number;
  etag: string;
  lastModified: Date;
}

export interface PutOptions {
  contentType?: string;
}

/**
 * The one object-store interface every service uses (datasets, checkpoints, artefacts).
 * A reader never sees a torn object: a put is visible whole or not at all.
 */
export interface ObjectStore {
  /** e.g. "s3://mlpipe at http://127.0.0.1:9000" or "file:///…/store". */
  readonly description: string;
  /** Creates the bucket or folder when missing; idempotent. */
  ensureReady(): Promise<void>;
  put(key: string, body: Uint8Array, opts?: PutOptions): Promise<void>;
  /** Throws NotFoundError when absent. */
  get(key: string): Promise<Uint8Array>;
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Every object under the prefix (recursive), sorted by key. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Idempotent. */
  delete(key: string): Promise<void>;
}

export type StoreConfig =
  | { kind: 'fs'; root: string }
  | { kind: 's3'; endpoint: string; bucket: string; accessKey: string; secretKey: string; region?: string };
