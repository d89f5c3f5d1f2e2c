/**
 * Checks that what mlpipe needs on this machine answers: NATS with JetStream and PostgreSQL, and
 * with `--for-tests` Chromium for the UI's browser test too (the demo itself drives no browser).
 * With `--for-demo` a nats-server binary instead of a running NATS: the demo starts its own.
 * Prints one line per missing piece, with how to get it, and exits 1 if anything is missing.
 */
import { existsSync } from 'node:fs';
import { connectBus } from '@mlpipe/bus';
import { createPool } from '@mlpipe/db';
import { describeError } from '@mlpipe/common';

const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const pgUrl = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const problems: string[] = [];

if (process.argv.includes('--for-demo')) {
  const natsServer = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
  if (!existsSync(natsServer)) problems.push(`no nats-server at ${natsServer} for the demo to start (Debian: apt-get install nats-server)`);
} else {
  try {
    const bus = await connectBus({ url: natsUrl, name: 'check-deps', namespace: 'check' });
    await bus.close();
  } catch (err) {
    problems.push(`${describeError(err)} (Debian: apt-get install nats-server; run: nats-server -js -sd /var/lib/nats-server)`);
  }
}
try {
  const pool = await createPool(pgUrl, 1);
  await pool.end();
} catch (err) {
  problems.push(`${describeError(err)} (Debian: apt-get install postgresql; run: pg_ctlcluster 15 main start)`);
}
const browser = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (process.argv.includes('--for-tests') && !existsSync(browser)) problems.push(`no Chromium at ${browser} for the UI's browser test (Debian: apt-get install chromium)`);
for (const p of problems) console.error(`missing: ${p}`);
process.exit(problems.length ? 1 : 0);
