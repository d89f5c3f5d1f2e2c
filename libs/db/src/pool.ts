import pg from 'pg';
import { TransientError } from '@mlpipe/common';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

/** A pg pool that has proven it can reach the server (fails with a one-line how-to otherwise). */
export async function createPool(url: string, max = 5): Promise<pg.Pool> {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on('error', () => undefined); // idle-client errors surface on the next query instead of crashing
  // A checked-out client whose server goes away (an outage mid-transaction) emits 'error' too, and
  // without a listener that kills the process; its query fails instead, and the caller retries.
  pool.on('connect', (client) => void client.on('error', () => undefined));
  try {
    await pool.query('select 1');
  } catch (cause) {
    await pool.end();
    throw new TransientError(
      `cannot reach PostgreSQL at ${redactUrl(url)}: start it, or create the database (createdb ${databaseName(url)})`,
      { cause },
    );
  }
  return pool;
}

/** Runs fn in a transaction; rolls back on any error. */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

export function databaseName(url: string): string {
  return new URL(url).pathname.replace(/^\//, '') || 'postgres';
}

/** Creates the database named in the URL when it is missing (the laptop default needs this once). */
export async function ensureDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  client.on('error', () => undefined); // a dropped connection fails the query below instead of crashing
  try {
    await client.connect();
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (!rowCount) await client.query(`create database ${pg.escapeIdentifier(name)}`);
  } catch (cause) {
    // Two services creating the same new database at once: the loser sees the catalogue's unique key, not "already exists".
    if (cause instanceof Error && /already exists|pg_database_datname_index/.test(cause.message)) return;
    throw new TransientError(`cannot reach PostgreSQL at ${redactUrl(url)} to create database ${name}`, { cause });
  } finally {
    await client.end().catch(() => undefined);
  }
}
