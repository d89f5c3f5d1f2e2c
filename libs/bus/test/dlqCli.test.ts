import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ValidationError, eventually } from '@mlpipe/common';
import { pino } from 'pino';
import { createTestBus, validatedBatch, type TestBus } from '@mlpipe/testing';
import { consumeEvents, listDeadLetters, publishEvent, streamNameOf, subjectOf, REPLAYED_FROM_HEADER, type RunningConsumer } from '../src';
import { runDlqCli } from '../src/dlqCli';

const logger = pino({ level: 'silent' });
const root = resolve(import.meta.dirname, '../../..');
/** The installed command (the workspace's "bin" entry, linked by npm). */
const BIN = resolve(root, 'node_modules/.bin/mlpipe-dlq');

interface Run {
  code: number | null;
  stdout: string[];
  stderr: string[];
}

function dlq(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((done) => {
    execFile(BIN, args, { cwd: '/', env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const lines = (s: string) => s.split('\n').filter(Boolean);
      done({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout: lines(stdout), stderr: lines(stderr) });
    });
  });
}

describe('mlpipe-dlq on real NATS JetStream', () => {
  let bus: TestBus;
  let consumer: RunningConsumer;
  let broken: boolean;
  let handled: string[];
  let env: Record<string, string>;
  beforeEach(async () => {
    bus = await createTestBus();
    env = { BUS_NAMESPACE: bus.namespace, NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' };
    broken = true;
    handled = [];
    consumer = await consumeEvents(bus, {
      durable: 'batches',
      logger,
      handlers: {
        'data.batch.validated': async (e) => {
          if (broken) throw new ValidationError(`batch ${e.data.batchId} is unusable`);
          handled.push(e.data.batchId);
        },
      },
    });
  });
  afterEach(async () => {
    await consumer.stop();
    await bus.dispose();
  });
  const deadLetters = (n: number) => eventually(async () => ((await listDeadLetters(bus)).length === n ? listDeadLetters(bus) : undefined), 10_000, `${n} dead letters`);

  it('lists, shows and replays a poison message; a replay that fails again is dead-lettered again; fixed, it is handled once', async () => {
    // Given a message the consumer dead-letters
    await publishEvent(bus, 'data.batch.validated', { ...validatedBatch, batchId: 'b1' }, { source: 't' });
    const [first] = await deadLetters(1);
    const seq = first!.seq;

    // list: one line with sequence, time, type, consumer, deliveries and reason
    const list = await dlq(['list'], env);
    expect(list).toMatchObject({ code: 0, stderr: [] });
    expect(list.stdout).toEqual([
      expect.stringMatching(new RegExp(`^${seq}  \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z  data.batch.validated  consumer batches  deliveries 1  data.batch.validated failed permanently: batch b1 is unusable$`)),
    ]);

    // show: the full record, the payload pretty-printed
    const show = await dlq(['show', String(seq)], env);
    expect(show.code).toBe(0);
    expect(show.stdout).toEqual(expect.arrayContaining([`subject     ${subjectOf(bus.namespace, 'data.batch.validated')}`, 'consumer    batches', 'payload (utf8):', '    "batchId": "b1",']));

    // replay while the handler is still broken: gone from the DLQ, back in it under a new sequence with its reason
    const again = await dlq(['replay', String(seq)], env);
    expect(again).toMatchObject({ code: 0, stderr: [] });
    expect(again.stdout[0]).toMatch(new RegExp(`^replayed ${seq} to ${bus.namespace}\\.data\\.batch\\.validated \\(stream sequence \\d+\\); dead letter deleted$`));
    const [second] = await eventually(async () => {
      const letters = await listDeadLetters(bus);
      return letters.length === 1 && letters[0]!.seq !== seq ? letters : undefined;
    });
    expect(second!.record?.reason).toBe('data.batch.validated failed permanently: batch b1 is unusable');
    const replayedSeq = Number(/stream sequence (\d+)/.exec(again.stdout[0]!)?.[1]);
    const replayed = await bus.jsm.streams.getMessage(streamNameOf(bus.namespace, 'DATA'), { seq: replayedSeq });
    expect(replayed?.header.get(REPLAYED_FROM_HEADER)).toBe(`${streamNameOf(bus.namespace, 'DLQ')}:${seq}`);

    // fixed: replayed once more, handled once, the DLQ empty
    broken = false;
    expect((await dlq(['replay', String(second!.seq)], env)).code).toBe(0);
    await eventually(() => handled.length === 1, 10_000, 'the replayed batch');
    await new Promise((r) => setTimeout(r, 300));
    expect(handled).toEqual(['b1']);
    expect(await dlq(['list'], env)).toMatchObject({ code: 0, stdout: ['no dead letters'] });

    // a dead letter already replayed is unknown now: one line, exit 1
    const gone = await dlq(['replay', String(second!.seq)], env);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toEqual([expect.stringMatching(new RegExp(`^mlpipe-dlq: ${second!.seq}: no dead letter ${second!.seq} in ${bus.namespace.toUpperCase()}_DLQ`))]);
  });

  it('replays every dead letter of a type with --all --type, and lists by type', async () => {
    await publishEvent(bus, 'data.batch.validated', { ...validatedBatch, batchId: 'b1' }, { source: 't' });
    await publishEvent(bus, 'data.batch.validated', { ...validatedBatch, batchId: 'b2' }, { source: 't' });
    await deadLetters(2);
    // a dead letter of another type, from a consumer that refuses everything
    const other = await consumeEvents(bus, {
      durable: 'rejections',
      logger,
      handlers: { 'data.batch.rejected': async () => Promise.reject(new ValidationError('no')) },
    });
    await publishEvent(bus, 'data.batch.rejected', { batchId: 'r1', sourcePrefix: 'incoming/r1/', reasons: ['too few samples'] }, { source: 't' });
    await deadLetters(3);
    await other.stop();
    const out: string[] = [];
    const io = { out: (l: string) => void out.push(l), err: (l: string) => void out.push(`ERR ${l}`) };
    expect(await runDlqCli(['list', '--type', 'data.batch.rejected'], env, io)).toBe(0);
    expect(out).toEqual([expect.stringMatching(/ {2}data\.batch\.rejected {2}consumer rejections {2}deliveries 1 {2}data\.batch\.rejected failed permanently: no$/)]);
    out.length = 0;
    expect(await runDlqCli(['list', '--limit', '1'], env, io)).toBe(0);
    expect(out).toEqual([expect.stringContaining('data.batch.rejected')]); // the newest one
    out.length = 0;

    broken = false;
    expect(await runDlqCli(['replay', '--all', '--type', 'data.batch.validated'], env, io)).toBe(0);
    expect(out).toHaveLength(2);
    await eventually(() => handled.length === 2, 10_000, 'both replayed batches');
    expect(handled.sort()).toEqual(['b1', 'b2']);
    expect((await listDeadLetters(bus)).map((l) => l.type)).toEqual(['data.batch.rejected']);
  });

  it('says what is wrong in one line: unknown sequence and unreachable NATS exit 1, bad usage exits 2 with the usage', async () => {
    const unknown = await dlq(['show', '999'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toEqual([`mlpipe-dlq: no dead letter 999 in ${bus.namespace.toUpperCase()}_DLQ (replayed ones are deleted; run list to see what is there)`]);

    const down = await dlq(['list'], { ...env, NATS_URL: 'nats://127.0.0.1:1' });
    expect(down.code).toBe(1);
    expect(down.stderr).toEqual(['mlpipe-dlq: cannot reach NATS at nats://127.0.0.1:1: start it with JetStream enabled, e.g. "nats-server -js"']);

    const noStream = await dlq(['list'], { ...env, BUS_NAMESPACE: 'nothing-here' });
    expect(noStream.code).toBe(1);
    expect(noStream.stderr).toEqual(['mlpipe-dlq: no dead-letter stream NOTHING_HERE_DLQ: has any mlpipe service run with BUS_NAMESPACE=nothing-here?']);

    for (const args of [[], ['replay'], ['replay', '3', '--all'], ['show'], ['list', '--limit', 'lots'], ['show', 'x1'], ['purge'], ['list', '--bogus']]) {
      const bad = await runDlqCli(args, env, { out: () => undefined, err: () => undefined });
      expect(bad, args.join(' ')).toBe(2);
    }
    const usage = await dlq(['replay'], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr[0]).toBe('mlpipe-dlq: replay takes one SEQ or --all');
    expect(usage.stderr[1]).toMatch(/^usage: mlpipe-dlq list/);
  });
});
