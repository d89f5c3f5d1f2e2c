import { parseArgs } from 'node:util';
import { BaseConfigSchema, loadConfig } from '@mlpipe/config';
import { describeError } from '@mlpipe/common';
import { connectBus, type Bus } from './connection';
import { listDeadLetters, readDeadLetter, replayDeadLetter, type DeadLetterEntry } from './deadLetters';

/** mlpipe-dlq: look at the dead-letter stream and put messages back (src/bin/mlpipe-dlq.mjs runs it). */

export const DLQ_USAGE = `usage: mlpipe-dlq list [--type TYPE] [--limit N]   newest N dead letters (default 50), oldest first
       mlpipe-dlq show SEQ                          one in full, the payload pretty-printed
       mlpipe-dlq replay SEQ | --all [--type TYPE]  publish the original message again, then delete the dead letter
(NATS_URL, default nats://127.0.0.1:4222; BUS_NAMESPACE, default mlpipe; NATS_USER/NATS_PASSWORD: the ops user's)`;

export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
}

class UsageError extends Error {}

const whole = (v: string | undefined, what: string): number | undefined => {
  if (v === undefined) return undefined;
  if (!/^[1-9][0-9]*$/.test(v)) throw new UsageError(`${what} must be a positive whole number, got "${v}"`);
  return Number(v);
};

const eventType = (v: string | undefined): string | undefined => {
  if (v !== undefined && !/^[a-z0-9][a-z0-9._-]*$/.test(v)) throw new UsageError(`--type must be an event type such as data.batch.validated, got "${v}"`);
  return v;
};

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ');

export function describeEntry(e: DeadLetterEntry): string {
  const r = e.record;
  if (!r) return `${e.seq}  ${e.storedAt.toISOString()}  ${e.type}  (not a dead-letter record)`;
  return `${e.seq}  ${e.storedAt.toISOString()}  ${e.type}  consumer ${r.consumer}  deliveries ${r.deliveries}  ${oneLine(r.reason)}`;
}

export function showEntry(e: DeadLetterEntry): string {
  const r = e.record;
  if (!r) return [`seq         ${e.seq}`, `stored at   ${e.storedAt.toISOString()}`, `type        ${e.type}`, 'not a dead-letter record; as stored:', e.raw].join('\n');
  let payload = r.payload;
  if (r.payloadEncoding === 'utf8') {
    try {
      payload = JSON.stringify(JSON.parse(r.payload), null, 2);
    } catch {
      // not JSON (often why it was dead-lettered): shown as it came
    }
  }
  return [
    `seq         ${e.seq}`,
    `stored at   ${e.storedAt.toISOString()}`,
    `type        ${e.type}`,
    `subject     ${r.originalSubject}`,
    `consumer    ${r.consumer}`,
    `deliveries  ${r.deliveries}`,
    `failed at   ${r.occurredAt}`,
    `reason      ${oneLine(r.reason)}`,
    `payload (${r.payloadEncoding}):`,
    payload,
  ].join('\n');
}

async function replay(bus: Bus, seqs: number[], io: CliOutput): Promise<number> {
  let failed = 0;
  for (const seq of seqs) {
    try {
      const r = await replayDeadLetter(bus, seq);
      const note = r.duplicate ? 'already there from an earlier replay' : `stream sequence ${r.seq}`;
      io.out(`replayed ${seq} to ${r.subject} (${note}); dead letter deleted`);
    } catch (err) {
      failed++;
      io.err(`mlpipe-dlq: ${seq}: ${describeError(err)}`);
    }
  }
  return failed ? 1 : 0;
}

async function command(bus: Bus, name: string, args: { seq?: number; type?: string; limit?: number; all: boolean }, io: CliOutput): Promise<number> {
  switch (name) {
    case 'list': {
      const entries = await listDeadLetters(bus, { ...(args.type ? { type: args.type } : {}), limit: args.limit ?? 50 });
      for (const e of entries) io.out(describeEntry(e));
      if (!entries.length) io.out(args.type ? `no dead letters of type ${args.type}` : 'no dead letters');
      return 0;
    }
    case 'show':
      io.out(showEntry(await readDeadLetter(bus, args.seq!)));
      return 0;
    default: {
      const seqs = args.all ? (await listDeadLetters(bus, args.type ? { type: args.type } : {})).map((e) => e.seq) : [args.seq!];
      if (!seqs.length) io.out('nothing to replay');
      return replay(bus, seqs, io);
    }
  }
}

/** Checks the arguments before anything connects: a usage error is exit code 2, with the usage. */
function parse(argv: string[]): { name: string; seq?: number; type?: string; limit?: number; all: boolean } | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { type: { type: 'string' }, limit: { type: 'string' }, all: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return 'help';
  const [name, seqText, ...rest] = positionals;
  if (!name) throw new UsageError('a command is needed');
  if (rest.length) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
  const seq = whole(seqText, 'SEQ');
  const type = eventType(values.type);
  const limit = whole(values.limit, '--limit');
  const all = values.all ?? false;
  if (name === 'list') {
    if (seq !== undefined || all) throw new UsageError('list takes only --type and --limit');
  } else if (name === 'show') {
    if (seq === undefined || all || type || limit) throw new UsageError('show takes one SEQ');
  } else if (name === 'replay') {
    if ((seq === undefined) === !all) throw new UsageError('replay takes one SEQ or --all');
    if (limit || (type && !all)) throw new UsageError('replay takes --type only with --all');
  } else {
    throw new UsageError(`unknown command "${name}"`);
  }
  return { name, all, ...(seq !== undefined ? { seq } : {}), ...(type ? { type } : {}), ...(limit ? { limit } : {}) };
}

/** Runs mlpipe-dlq; resolves to the exit code (0 done, 1 failed with one line on stderr, 2 bad usage). */
export async function runDlqCli(argv: string[], env: Record<string, string | undefined>, io: CliOutput): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (err) {
    io.err(`mlpipe-dlq: ${describeError(err)}`);
    io.err(DLQ_USAGE);
    return 2;
  }
  if (args === 'help') {
    io.out(DLQ_USAGE);
    return 0;
  }
  let bus: Bus | undefined;
  try {
    const config = loadConfig(BaseConfigSchema.pick({ NATS_URL: true, NATS_USER: true, NATS_PASSWORD: true, BUS_NAMESPACE: true }), env);
    bus = await connectBus({ url: config.NATS_URL, name: 'mlpipe-dlq', namespace: config.BUS_NAMESPACE, user: config.NATS_USER, password: config.NATS_PASSWORD });
    return await command(bus, args.name, args, io);
  } catch (err) {
    io.err(`mlpipe-dlq: ${describeError(err)}`);
    return 1;
  } finally {
    await bus?.close();
  }
}
