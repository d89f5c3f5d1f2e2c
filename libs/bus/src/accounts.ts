import { EVENTS, STREAMS, requestSubjectsOf, type EventType, type RequestSubject, type StreamKey } from '@mlpipe/contracts';
import { ledgerBucketOf } from './ledger';
import { deadLetterSubject, streamNameOf, subjectOf, validateNamespace } from './naming';

/**
 * Who may do what on NATS: one user per service (and per ops tool), each allowed only the subjects
 * its code uses. This table is the one source of the server's `authorization` block
 * (serverConfig.ts): docker-compose, the Helm chart and the demo all render it from here, and
 * test/security/nats-permissions.test.ts runs the real services under it, so a right missing here
 * shows up there as a refused publish or subscription.
 */
export const NATS_USERS = ['dataset-watcher', 'orchestrator', 'trainer', 'registry', 'gateway', 'ui', 'jobs-cli', 'ops', 'minio'] as const;
export type NatsUser = (typeof NATS_USERS)[number];

/** A durable pull consumer a service reads through (consumeEvents): its name and the event types it handles. */
interface Durable {
  durable: string;
  types: readonly EventType[];
}

/** What one user's code does on the bus, in the bus's own terms; permissionsOf turns it into subjects. */
interface Rights {
  /** Why this user exists, for the docs' table. */
  role: string;
  /** Events it publishes to JetStream (publishEvent, the outbox relay). */
  publishes?: readonly EventType[];
  /** Durable consumers (consumeEvents): consumer management, pulls, acks and dead letters. */
  consumes?: readonly Durable[];
  /** Live views of events (subscribeEvents). */
  listens?: readonly EventType[];
  /** Request/reply endpoints it calls (request). */
  requests?: readonly RequestSubject[];
  /** Request/reply endpoints it answers (serveRequests); it may reply to whoever asked. */
  serves?: readonly RequestSubject[];
  /** Creates and updates the namespace's streams and the failure ledger (ensureStreams). */
  ensuresStreams?: boolean;
  /** Its own subjects beyond the above, already namespaced by the caller's function. */
  extra?: (ctx: SubjectContext) => { publish?: string[]; subscribe?: string[]; responds?: boolean };
  /** No JetStream, no inbox: a plain publisher (MinIO's bucket notifications). */
  plainPublisher?: boolean;
}

export interface SubjectContext {
  namespace: string;
  /** The subject MinIO publishes bucket notifications on (the watcher's DATA_NOTIFY_SUBJECT). */
  notifySubject: string;
  /** TTLs of the trainer's coordinator-lease buckets (one bucket per TTL: TRAINER_LEASE_TTL_MS). */
  leaseTtlsMs: readonly number[];
}

const TRAIN_EVENTS_SEEN_BY_REGISTRY: EventType[] = ['train.job.started', 'train.job.progress', 'train.job.failed', 'train.job.cancelled', 'train.job.completed', 'train.sweep.completed'];

/** The rights of each user, read from each service's code (services/<name>/src/service.ts and adapters). */
export const NATS_RIGHTS: Record<NatsUser, Rights> = {
  'dataset-watcher': {
    role: 'validates incoming batches, records dataset versions, watches drift',
    publishes: ['data.batch.validated', 'data.batch.rejected', 'data.drift.detected'],
    consumes: [{ durable: 'watcher-model-events', types: ['model.version.registered'] }],
    // Its read views (batches, dataset versions, drift windows) for the UI's data page.
    serves: requestSubjectsOf('watcher'),
    ensuresStreams: true,
    extra: (c) => ({ subscribe: [c.notifySubject] }),
  },
  orchestrator: {
    role: 'owns jobs and sweeps; requests training, answers the job API',
    publishes: ['train.job.requested', 'train.job.cancel-requested', 'train.sweep.completed'],
    consumes: [
      { durable: 'orchestrator-data-events', types: ['data.batch.validated'] },
      { durable: 'orchestrator-drift-events', types: ['data.drift.detected'] },
      { durable: 'orchestrator-train-events', types: ['train.job.started', 'train.job.progress', 'train.job.completed', 'train.job.failed', 'train.job.cancelled'] },
      { durable: 'orchestrator-model-events', types: ['model.version.registered', 'model.alias.changed'] },
    ],
    serves: requestSubjectsOf('orchestrator'),
    // mlpipe-jobs run inside the orchestrator's pod (the CT workflow's `kubectl exec`) logs in as the orchestrator.
    requests: requestSubjectsOf('orchestrator'),
    ensuresStreams: true,
  },
  trainer: {
    role: 'trains jobs: the only publisher of their progress, results and data-parallel frames',
    // train.job.requested too: a resumed coordinator asks for its workers again (recallWorkers).
    publishes: ['train.job.started', 'train.job.progress', 'train.job.completed', 'train.job.failed', 'train.job.cancelled', 'train.group.changed', 'train.job.requested'],
    consumes: [{ durable: 'trainer-jobs', types: ['train.job.requested'] }],
    listens: ['train.job.cancel-requested'],
    requests: ['orchestrator.jobs.get'],
    ensuresStreams: true,
    extra: (c) => {
      const leases = c.leaseTtlsMs.map((ttl) => leaseBucketOf(c.namespace, ttl));
      return {
        // Group frames (join, control, gradients, heartbeats, weights) on core NATS; the coordinator answers joins.
        publish: [subjectOf(c.namespace, 'dp.>'), ...leases.flatMap(kvSubjects)],
        subscribe: [subjectOf(c.namespace, 'dp.>')],
        responds: true,
      };
    },
  },
  registry: {
    role: 'registers versions and moves aliases: the only publisher of model.*',
    publishes: ['model.version.registered', 'model.alias.changed'],
    consumes: [{ durable: 'registry-train-events', types: TRAIN_EVENTS_SEEN_BY_REGISTRY }],
    ensuresStreams: true,
  },
  gateway: {
    role: 'serves predictions; follows alias moves and new versions live',
    listens: ['model.alias.changed', 'model.version.registered'],
  },
  ui: {
    role: 'web UI: jobs and sweeps (list, submit, cancel), live job progress, drift alerts, the watcher\'s batches, dataset versions and drift windows',
    requests: [
      'orchestrator.jobs.list',
      'orchestrator.jobs.submit',
      'orchestrator.jobs.cancel',
      'orchestrator.sweeps.list',
      'orchestrator.sweeps.get',
      'orchestrator.sweeps.submit',
      'orchestrator.drift.list',
      ...requestSubjectsOf('watcher'),
    ],
    listens: ['train.job.started', 'train.job.progress', 'train.job.completed', 'train.job.failed', 'train.job.cancelled'],
  },
  'jobs-cli': {
    role: 'mlpipe-jobs (services/orchestrator/src/cli.ts): the job and sweep API from a terminal',
    requests: requestSubjectsOf('orchestrator'),
  },
  ops: {
    role: 'mlpipe-dlq (list, show, replay dead letters) and stream clean-up: an operator, not a service',
    extra: (c) => {
      const streams = [...(Object.keys(STREAMS) as StreamKey[]).map((k) => streamNameOf(c.namespace, k)), `KV_${ledgerBucketOf(c.namespace)}`];
      return {
        // A replay re-publishes a dead letter to its original subject: any event of the event streams (not group frames, not requests).
        publish: [
          ...(Object.keys(STREAMS) as StreamKey[]).filter((k) => k !== 'DLQ').flatMap((k) => STREAMS[k].subjects.map((s) => subjectOf(c.namespace, s))),
          ...streams.flatMap((s) => ['INFO', 'DELETE', 'PURGE', 'MSG.GET', 'MSG.DELETE'].map((op) => `$JS.API.STREAM.${op}.${s}`)),
        ],
      };
    },
  },
  minio: {
    role: 'MinIO bucket notifications (a batch landed): publishes the notify subject, nothing else',
    plainPublisher: true,
    extra: (c) => ({ publish: [c.notifySubject] }),
  },
};

export interface NatsPermissions {
  publish: string[];
  subscribe: string[];
  /** May publish to the reply subject of a request it received (and only while it is pending). */
  allowResponses: boolean;
}

/** Each user's inbox prefix: replies and pulled messages reach it there, and nobody else may listen in. */
export function inboxPrefixOf(user: string): string {
  return `_INBOX.${user.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/** The trainer's coordinator-lease bucket for a TTL (services/trainer/src/adapters/coordinatorLease.ts names it the same; a test holds them equal). */
export function leaseBucketOf(namespace: string, ttlMs: number): string {
  return `${namespace.replace(/-/g, '_')}_dp_leases_${ttlMs}`;
}

/** A KV bucket's entries and the JetStream API calls behind create, get, put, update and delete. */
function kvSubjects(bucket: string): string[] {
  const stream = `KV_${bucket}`;
  return [
    `$KV.${bucket}.>`,
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.STREAM.CREATE.${stream}`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
  ];
}

function durableSubjects(namespace: string, d: Durable): string[] {
  const first = d.types[0];
  if (!first) throw new Error(`durable ${d.durable} handles no event type`);
  const stream = streamNameOf(namespace, EVENTS[first].stream);
  const c = `${stream}.${d.durable}`;
  // As consumeEvents filters: a message of one of these types, or of its stream's group, may be dead-lettered.
  const deadLetters = d.types.length === 1 ? deadLetterSubject(namespace, first) : deadLetterSubject(namespace, `${first.split('.')[0]}.>`);
  return [
    `$JS.API.CONSUMER.INFO.${c}`,
    `$JS.API.CONSUMER.CREATE.${c}`,
    `$JS.API.CONSUMER.CREATE.${c}.>`,
    `$JS.API.CONSUMER.DURABLE.CREATE.${c}`,
    `$JS.API.CONSUMER.DELETE.${c}`,
    `$JS.API.CONSUMER.MSG.NEXT.${c}`,
    `$JS.ACK.${c}.>`,
    `$JS.API.STREAM.INFO.${stream}`,
    deadLetters,
  ];
}

function streamManagement(namespace: string): string[] {
  const streams = (Object.keys(STREAMS) as StreamKey[]).map((k) => streamNameOf(namespace, k));
  return streams.flatMap((s) => ['INFO', 'CREATE', 'UPDATE'].map((op) => `$JS.API.STREAM.${op}.${s}`));
}

const DEFAULT_CONTEXT = { notifySubject: 'minio.events', leaseTtlsMs: [10_000] } as const;

/** The subjects a user may publish and subscribe to in `namespace`, sorted and without repeats. */
export function permissionsOf(user: NatsUser, namespace: string, opts: Partial<Omit<SubjectContext, 'namespace'>> = {}): NatsPermissions {
  const ctx: SubjectContext = { ...DEFAULT_CONTEXT, ...opts, namespace: validateNamespace(namespace) };
  const r = NATS_RIGHTS[user];
  const extra = r.extra?.(ctx) ?? {};
  const publish: string[] = [];
  const subscribe: string[] = [];
  if (!r.plainPublisher) {
    publish.push('$JS.API.INFO'); // connectBus asks for the account's JetStream info
    subscribe.push(`${inboxPrefixOf(user)}.>`);
  }
  if (r.ensuresStreams) publish.push(...streamManagement(ctx.namespace));
  if (r.ensuresStreams || r.consumes?.length) publish.push(...kvSubjects(ledgerBucketOf(ctx.namespace)));
  for (const t of r.publishes ?? []) publish.push(subjectOf(ctx.namespace, t));
  for (const d of r.consumes ?? []) publish.push(...durableSubjects(ctx.namespace, d));
  for (const t of r.listens ?? []) subscribe.push(subjectOf(ctx.namespace, t));
  for (const s of r.requests ?? []) publish.push(subjectOf(ctx.namespace, s));
  for (const s of r.serves ?? []) subscribe.push(subjectOf(ctx.namespace, s));
  publish.push(...(extra.publish ?? []));
  const unique = (xs: string[]) => [...new Set(xs)].sort();
  // A user's own extra subjects (the notify subject: any name the operator picks) go last, so the
  // order of the rest does not depend on that name (the Helm template fills it in after rendering).
  const ownSubscribe = unique(subscribe);
  const extraSubscribe = unique((extra.subscribe ?? []).filter((x) => !ownSubscribe.includes(x)));
  return { publish: unique(publish), subscribe: [...ownSubscribe, ...extraSubscribe], allowResponses: Boolean(r.serves?.length || extra.responds) };
}

/** The durables a user reads through, for the docs' table. */
export function consumersOf(user: NatsUser): readonly Durable[] {
  return NATS_RIGHTS[user].consumes ?? [];
}
