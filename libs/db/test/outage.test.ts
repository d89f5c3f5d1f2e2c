import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOwnPostgres, type OwnPostgres } from '@mlpipe/testing';
import { createPool, type Pool } from '../src';

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
