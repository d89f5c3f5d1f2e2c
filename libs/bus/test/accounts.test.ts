import { describe, expect, it } from 'vitest';
import { ConfigError } from '@mlpipe/common';
import { NATS_USERS, connectBus, permissionsOf, redactNatsUrl, renderAuthorization, streamNameOf } from '../src';
import { ledgerBucketOf } from '../src/ledger';

describe('NATS users and their subjects (pure)', () => {
  it('keeps every user inside its namespace: its subjects, its streams, its buckets, its inbox', () => {
    const ns = 'team-a';
    const streams = ['DATA', 'TRAIN', 'MODEL', 'DLQ'].map((k) => streamNameOf(ns, k as 'DATA'));
    const kvStreams = [`KV_${ledgerBucketOf(ns)}`, 'KV_team_a_dp_leases_10000'];
    for (const user of NATS_USERS) {
      const p = permissionsOf(user, ns);
      for (const subject of [...p.publish, ...p.subscribe]) {
        if (subject === '$JS.API.INFO' || subject === 'minio.events') continue;
        if (subject.startsWith('_INBOX.')) {
          expect(subject, user).toBe(`_INBOX.${user}.>`);
          continue;
        }
        const api = /^\$JS\.(?:API\.(?:STREAM\.(?:MSG\.)?[A-Z]+|CONSUMER\.MSG\.NEXT|CONSUMER\.(?:DURABLE\.)?[A-Z]+|DIRECT\.GET)|ACK)\.([^.]+)/.exec(subject);
        if (api) {
          expect([...streams, ...kvStreams], `${user}: ${subject}`).toContain(api[1]);
          continue;
        }
        if (subject.startsWith('$KV.')) {
          expect([ledgerBucketOf(ns), 'team_a_dp_leases_10000'], `${user}: ${subject}`).toContain(subject.split('.')[1]);
          continue;
        }
        expect(subject.startsWith(`${ns}.`), `${user}: ${subject}`).toBe(true);
      }
      expect(new Set(p.publish).size).toBe(p.publish.length);
    }
  });

  it('gives the only rights to publish job results to trainers and model events to the registry', () => {
    const publishers = (subject: string) => NATS_USERS.filter((u) => permissionsOf(u, 'ns').publish.includes(subject));
    expect(publishers('ns.train.job.completed')).toEqual(['trainer']);
    expect(publishers('ns.train.job.progress')).toEqual(['trainer']);
    expect(publishers('ns.train.group.changed')).toEqual(['trainer']);
    expect(publishers('ns.dp.>')).toEqual(['trainer']);
    expect(publishers('ns.model.alias.changed')).toEqual(['registry']);
    expect(publishers('ns.model.version.registered')).toEqual(['registry']);
    expect(publishers('ns.data.batch.validated')).toEqual(['dataset-watcher']);
    expect(publishers('ns.train.job.requested')).toEqual(['orchestrator', 'trainer']);
    // ops may publish every event (a replay) by the event streams' wildcards, but no group frame and no request.
    expect(permissionsOf('ops', 'ns').publish.filter((s) => s.startsWith('ns.'))).toEqual(['ns.data.>', 'ns.model.>', 'ns.train.>']);
    expect(permissionsOf('minio', 'ns')).toEqual({ publish: ['minio.events'], subscribe: [], allowResponses: false });
  });

  it('renders a config that says deny where a user subscribes to nothing, and refuses unsafe passwords', () => {
    const text = renderAuthorization({ namespace: 'ns', passwords: { minio: { literal: 'a-long-enough-password' }, trainer: { env: 'TRAINER_PW' } } });
    expect(text).toContain('subscribe: { deny: [">"] }');
    expect(text).toContain('password: $TRAINER_PW');
    expect(text).toContain('allow_responses: true');
    expect(text).not.toContain('"gateway"');
    expect(() => renderAuthorization({ namespace: 'ns', passwords: { ui: { literal: 'short' } } })).toThrow(/12 characters/);
    expect(() => renderAuthorization({ namespace: 'ns', passwords: { ui: { literal: 'quote"and } brace' } } })).toThrow(/cannot write/);
  });
});

describe('NATS credentials on the client', () => {
  it('redacts passwords and tokens in URLs, one server or several', () => {
    expect(redactNatsUrl('nats://trainer:s3cret@nats:4222')).toBe('nats://trainer:***@nats:4222');
    expect(redactNatsUrl('nats://a:x@h1:4222,nats://b:y@h2:4222')).toBe('nats://a:***@h1:4222,nats://b:***@h2:4222');
    expect(redactNatsUrl('tls://tok3n@h:4222')).toBe('tls://***@h:4222');
    expect(redactNatsUrl('nats://127.0.0.1:4222')).toBe('nats://127.0.0.1:4222');
  });

  it('takes a user and a password together or not at all', async () => {
    await expect(connectBus({ url: 'nats://127.0.0.1:1', name: 'x', namespace: 'ns', user: 'ui' })).rejects.toBeInstanceOf(ConfigError);
    await expect(connectBus({ url: 'nats://127.0.0.1:1', name: 'x', namespace: 'ns', password: 'pw' })).rejects.toThrow(/NATS_USER and NATS_PASSWORD go together/);
  });

  it('never puts the password of a URL into the connect error', async () => {
    const err = await connectBus({ url: 'nats://ui:hunter2-password@127.0.0.1:1', name: 'x', namespace: 'ns' }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toContain('nats://ui:***@127.0.0.1:1');
    expect(err?.message).not.toContain('hunter2');
  });
});
