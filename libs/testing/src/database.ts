import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * A throwaway database for one test: created empty, dropped (with its connections) on dispose.
 * Every service's tests share this one fixture; it only runs when a test calls it.
 */
export async function createTestDatabase(
  adminUrl = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `mlpipe_test_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}
