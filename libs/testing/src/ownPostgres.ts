import { execFile, execFileSync } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '@mlpipe/runtime';

const exec = promisify(execFile);
const BIN = process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';

/** A PostgreSQL cluster of this test's own (temporary folder, own port, trust auth), to stop and start. */
export interface OwnPostgres {
  url: string;
  start(): Promise<void>;
  /** `pg_ctl stop -m fast`: every connection is cut. */
  stop(): Promise<void>;
  dispose(): Promise<void>;
}

/** initdb and pg_ctl refuse to run as root: as root they run as the postgres user, who owns the folder. */
function asOwner(cmd: string, args: string[]) {
  const bin = join(BIN, cmd);
  return process.getuid?.() === 0 ? exec('runuser', ['-u', 'postgres', '--', bin, ...args]) : exec(bin, args);
}

export async function startOwnPostgres(): Promise<OwnPostgres> {
  const dir = await mkdtemp(join(tmpdir(), 'mlpipe-pg-'));
  if (process.getuid?.() === 0) {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
    await chown(dir, id('-u'), id('-g'));
  }
  const data = join(dir, 'data');
  const port = await freePort();
  await asOwner('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '--no-instructions']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  let up = false;
  const own: OwnPostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start: async () => {
      await asOwner('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-o', options, '-w', '-t', '30', 'start']);
      up = true;
    },
    stop: async () => {
      await asOwner('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']);
      up = false;
    },
    dispose: async () => {
      if (up) await own.stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
  await own.start();
  return own;
}
