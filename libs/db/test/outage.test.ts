import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOwnPostgres, type OwnPostgres } from '@mlpipe/testing';
import { createPool, ensureDatabase, type Pool } from '../src';

/** A PostgreSQL cluster of this test's own is stopped under a client in use. */
describe('the pool through a PostgreSQL outage', () => {
  let pg: OwnPostgres;
  let pool: Pool;
  beforeAll(async () => {
    pg = await startOwnPostgres();
    pool = await createPool(pg.url, 2);
  }, 60_000);
  afterAll(async () => {
    await pool.end().catch(() => undefined);
    await pg.dispose();
  });

  it('survives the server going away under a checked-out client: the query fails, the process lives, the pool works again after', async () => {
    const client = await pool.connect();
    await client.query('begin');
    await pg.stop(); // the server cuts the connection: pg emits 'error' on the client in use
    await new Promise((r) => setTimeout(r, 500));
    await expect(client.query('select 1')).rejects.toThrow();
    client.release(true);
    await pg.start();
    const { rows } = await pool.query<{ one: number }>('select 1 as one');
    expect(rows[0]?.one).toBe(1);
  }, 60_000);
});

describe('ensureDatabase', () => {
  let pg: OwnPostgres;
  beforeAll(async () => void (pg = await startOwnPostgres()), 60_000);
  afterAll(() => pg.dispose());

  it('lets several services create the same new database at once', async () => {
    const url = new URL(pg.url);
    url.pathname = '/mlpipe_race';
    await Promise.all(Array.from({ length: 6 }, () => ensureDatabase(url.toString())));
    const pool = await createPool(url.toString(), 1);
    expect((await pool.query<{ db: string }>('select current_database() as db')).rows[0]?.db).toBe('mlpipe_race');
    await pool.end();
  }, 60_000);
});
