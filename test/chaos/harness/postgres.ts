import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from '@mlpipe/runtime';

const run = promisify(execFile);
const BIN = process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';
/** initdb and pg_ctl refuse to run as root: they run as this OS user, who owns the cluster's folder. */
const OS_USER = 'postgres';

/**
 * A PostgreSQL cluster of the scenario's own (Debian's initdb/pg_ctl in a temporary folder, trust
 * auth, 127.0.0.1 only, its own port, the unix socket inside the folder), so stopping it touches
 * nothing else. The shared server on 5432 is never used by a scenario that breaks the database.
 */
export interface OwnPostgres {
  readonly port: number;
  /** postgres://postgres@127.0.0.1:<port>/<database> */
  url(database: string): string;
  start(): Promise<void>;
  /** `pg_ctl stop -m fast`: connections are cut, the cluster shuts down cleanly. */
  stop(): Promise<void>;
  running(): boolean;
  /** Creates an empty database (before the services start: they would race to create it). */
  createDatabase(name: string): Promise<void>;
  logFile: string;
  dispose(): Promise<void>;
}

const live = new Set<string>();
let guarded = false;

/** An 'exit' guard: a cluster left running after a crashed test is stopped (immediate mode, synchronously). */
function guardExit(): void {
  if (guarded) return;
  guarded = true;
  process.once('exit', () => {
    for (const data of live) {
      try {
        execFileSync('runuser', ['-u', OS_USER, '--', join(BIN, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop'], { stdio: 'ignore' });
      } catch {
        // already stopped
      }
    }
  });
}

const asPostgres = (cmd: string, args: string[]) => run('runuser', ['-u', OS_USER, '--', join(BIN, cmd), ...args]);

export async function startOwnPostgres(): Promise<OwnPostgres> {
  if (!existsSync(join(BIN, 'initdb'))) throw new Error(`no initdb in ${BIN}: install Debian's postgresql-15 (or set PG_BIN_DIR)`);
  guardExit();
  // Its own mkdtemp (not inside the scenario's folder): the postgres user must be able to enter it.
  const dir = mkdtempSync(join(tmpdir(), 'mlpipe-chaos-pg-'));
  chownSync(dir, Number(execFileSync('id', ['-u', OS_USER]).toString().trim()), Number(execFileSync('id', ['-g', OS_USER]).toString().trim()));
  const data = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const port = await freePort();
  await asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  let up = false;
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const cluster: OwnPostgres = {
    port,
    logFile,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    running: () => up,
    createDatabase: async (name) => {
      const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
      await client.connect();
      try {
        await client.query(`create database ${pg.escapeIdentifier(name)}`);
      } finally {
        await client.end();
      }
    },
    start: async () => {
      await asPostgres('pg_ctl', ['-D', data, '-l', logFile, '-o', options, '-w', '-t', '60', 'start']);
      up = true;
      live.add(data);
    },
    stop: async () => {
      await asPostgres('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']);
      up = false;
      live.delete(data);
    },
    dispose: async () => {
      if (up) await cluster.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await cluster.start();
  return cluster;
}
