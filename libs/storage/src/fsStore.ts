import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { NotFoundError } from '@mlpipe/common';
import { assertValidKey } from './keys';
import type { ObjectInfo, ObjectStore, PutOptions } from './types';

const TEMP_MARK = '.mlpipe-tmp-';

/**
 * A folder as an object store: the laptop default. Writes go to a temp file in the same folder,
 * are fsynced, then renamed over the key, so readers see the old or the new object, never half.
 */
export class FsObjectStore implements ObjectStore {
  readonly description: string;
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.description = pathToFileURL(this.root).href;
  }

  async ensureReady(): Promise<void> {
    await mkdir(this.root, { recursive: true });
  }

  async put(key: string, body: Uint8Array, _opts?: PutOptions): Promise<void> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const temp = join(dirname(path), `${TEMP_MARK}${randomBytes(6).toString('hex')}`);
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(body);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(temp, path);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  async get(key: string): Promise<Uint8Array> {
    try {
      return new Uint8Array(await readFile(this.pathOf(key)));
    } catch (err) {
      if (isMissing(err)) throw new NotFoundError(`no object ${key} in ${this.description}`, { cause: err });
      throw err;
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const s = await stat(this.pathOf(key));
      return s.isFile() ? infoOf(key, s.size, s.mtime) : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    assertValidKey(prefix, { prefix: true });
    // Walk the deepest folder the prefix names, then filter by the full prefix.
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const out: ObjectInfo[] = [];
    await this.walk(join(this.root, folder), out);
    return out.filter((o) => o.key.startsWith(prefix)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  private async walk(dir: string, out: ObjectInfo[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    for (const e of entries) {
      const full = join(dir, e.name);
      if (e.isDirectory()) await this.walk(full, out);
      else if (e.isFile() && !e.name.startsWith(TEMP_MARK)) {
        const s = await stat(full).catch(() => undefined);
        if (s) out.push(infoOf(relative(this.root, full).split(sep).join('/'), s.size, s.mtime));
      }
    }
  }

  private pathOf(key: string): string {
    assertValidKey(key);
    return join(this.root, ...key.split('/'));
  }
}

/** A cheap change tag for a file: size and modification time (content hashing would read every file). */
function infoOf(key: string, size: number, mtime: Date): ObjectInfo {
  const etag = createHash('sha1').update(`${size}:${mtime.getTime()}`).digest('hex');
  return { key, size, etag, lastModified: mtime };
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
