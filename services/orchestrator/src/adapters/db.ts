import { withTransaction, type Pool, type PoolClient } from '@mlpipe/db';

/** Where a repository's queries run: the pool (each statement on its own) or a transaction's client. */
export type Db = Pool | PoolClient;

/** Runs fn in a transaction: a new one on the pool, or inside the one a client is already in. */
export function inTransaction<T>(db: Db, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return 'release' in db ? fn(db) : withTransaction(db, fn);
}
