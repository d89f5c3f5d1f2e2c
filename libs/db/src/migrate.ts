import type pg from 'pg';

export interface Migration {
  /** Ordered id, e.g. "001_jobs". Never edit an applied migration: add a new one. */
  id: string;
  sql: string;
}

/**
 * Applies a service's migrations inside its own PostgreSQL schema, each once, in order, under an
 * advisory lock so replicas starting together do not race.
 */
export async function migrate(pool: pg.Pool, schema: string, migrations: readonly Migration[]): Promise<string[]> {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name ${schema}`);
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('select pg_advisory_lock(hashtext($1))', [`mlpipe-migrate-${schema}`]);
    await client.query(`create schema if not exists ${schema}`);
    await client.query(
      `create table if not exists ${schema}.schema_migrations (id text primary key, applied_at timestamptz not null default now())`,
    );
    const done = new Set(
      (await client.query<{ id: string }>(`select id from ${schema}.schema_migrations`)).rows.map((r) => r.id),
    );
    for (const m of [...migrations].sort((a, b) => a.id.localeCompare(b.id))) {
      if (done.has(m.id)) continue;
      await client.query('begin');
      try {
        await client.query(`set local search_path to ${schema}`);
        await client.query(m.sql);
        await client.query(`insert into ${schema}.schema_migrations (id) values ($1)`, [m.id]);
        await client.query('commit');
        applied.push(m.id);
      } catch (err) {
        await client.query('rollback');
        throw new Error(`migration ${schema}/${m.id} failed: ${(err as Error).message}`, { cause: err });
      }
    }
  } finally {
    await client.query('select pg_advisory_unlock(hashtext($1))', [`mlpipe-migrate-${schema}`]).catch(() => undefined);
    client.release();
  }
  return applied;
}
