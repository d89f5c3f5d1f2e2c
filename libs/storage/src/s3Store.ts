import { Client } from 'minio';
import { NotFoundError, TransientError } from '@mlpipe/common';
import { assertValidKey } from './keys';
import type { ObjectInfo, ObjectStore, PutOptions } from './types';

export interface S3Settings {
  endpoint: string;
  bucket: string;
  accessKey: string;
  secretKey: string;
  region?: string;
}

/**
 * S3 or MinIO through the `minio` client, path-style. A single PUT is atomic in S3: the object
 * appears whole when the request completes, so no temp-and-rename dance is needed here.
 */
export class S3ObjectStore implements ObjectStore {
  readonly description: string;
  private readonly client: Client;
  private readonly bucket: string;
  private readonly region: string;

  constructor(s: S3Settings) {
    const url = new URL(s.endpoint);
    this.client = new Client({
      endPoint: url.hostname,
      port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80,
      useSSL: url.protocol === 'https:',
      accessKey: s.accessKey,
      secretKey: s.secretKey,
      region: s.region ?? 'us-east-1',
      pathStyle: true,
    });
    this.bucket = s.bucket;
    this.region = s.region ?? 'us-east-1';
    this.description = `s3://${s.bucket} at ${url.origin}`;
  }

  async ensureReady(): Promise<void> {
    await this.call('check bucket', async () => {
      if (!(await this.client.bucketExists(this.bucket))) await this.client.makeBucket(this.bucket, this.region);
    });
  }

  async put(key: string, body: Uint8Array, opts?: PutOptions): Promise<void> {
    assertValidKey(key);
    const meta = opts?.contentType ? { 'Content-Type': opts.contentType } : {};
    await this.call(`put ${key}`, () => this.client.putObject(this.bucket, key, Buffer.from(body), body.byteLength, meta));
  }

  async get(key: string): Promise<Uint8Array> {
    assertValidKey(key);
    return this.call(`get ${key}`, async () => {
      const stream = await this.client.getObject(this.bucket, key);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      return new Uint8Array(Buffer.concat(chunks));
    });
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    assertValidKey(key);
    try {
      const s = await this.call(`head ${key}`, () => this.client.statObject(this.bucket, key));
      return { key, size: s.size, etag: s.etag, lastModified: s.lastModified };
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    assertValidKey(prefix, { prefix: true });
    return this.call(`list ${prefix}`, async () => {
      const out: ObjectInfo[] = [];
      for await (const item of this.client.listObjectsV2(this.bucket, prefix, true)) {
        const o = item as { name?: string; size: number; etag?: string; lastModified?: Date };
        if (o.name) out.push({ key: o.name, size: o.size, etag: o.etag ?? '', lastModified: o.lastModified ?? new Date(0) });
      }
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    });
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    await this.call(`delete ${key}`, () => this.client.removeObject(this.bucket, key));
  }

  /** Wraps the client's errors at the edge: missing → NotFoundError, network → TransientError. */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'NoSuchKey' || code === 'NotFound') {
        throw new NotFoundError(`no object for ${what} in ${this.description}`, { cause: err });
      }
      if (code === 'NoSuchBucket') {
        throw new NotFoundError(`bucket ${this.bucket} does not exist at ${this.description}`, { cause: err });
      }
      if (code && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EAI_AGAIN|EPIPE|SlowDown|ServiceUnavailable|InternalError)$/.test(code)) {
        throw new TransientError(`object store unreachable for ${what} (${code}): ${this.description}`, { cause: err });
      }
      throw err;
    }
  }
}
