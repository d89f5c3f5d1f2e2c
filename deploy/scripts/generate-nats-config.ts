/**
 * Writes the nats-server authorization that docker-compose and the Helm chart use, both rendered
 * from libs/bus/src/accounts.ts (the demo and the tests render theirs at run time):
 *   deploy/nats/mlpipe-auth.conf                      namespace "mlpipe", passwords from MLPIPE_NATS_PASSWORD_<USER>
 *   deploy/helm/mlpipe/files/nats-authorization.conf  the same with @NS@-style placeholders the chart fills in
 * Run `npx tsx deploy/scripts/generate-nats-config.ts` after changing a service's rights;
 * deploy/test/nats.test.ts fails while the committed files differ from what this writes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { envPasswords, renderAuthorization } from '@mlpipe/bus';

export const COMPOSE_AUTH_FILE = 'deploy/nats/mlpipe-auth.conf';
export const HELM_AUTH_FILE = 'deploy/helm/mlpipe/files/nats-authorization.conf';

/** What the Helm template replaces: the namespace in its three spellings and the notify subject. */
export const HELM_PLACEHOLDERS = { namespace: '@NS@', streamPrefix: '@NS_STREAM@', kvPrefix: '@NS_KV@', notifySubject: '@NOTIFY_SUBJECT@' } as const;

/** The compose rendering: namespace mlpipe, MinIO notifying on minio.events. */
export function composeAuthorization(): string {
  return renderAuthorization({ namespace: 'mlpipe', passwords: envPasswords(), notifySubject: 'minio.events' });
}

/**
 * The chart's rendering. The namespace is a value, so this renders a sentinel namespace (with a "-",
 * so its upper-case stream spelling and its "_" KV spelling differ from it) and turns each spelling
 * into a placeholder; the chart puts the real namespace back (templates/nats.yaml).
 */
export function helmAuthorization(): string {
  const sentinel = 'zq-ns-zq';
  const notify = 'zq.notify.zq';
  const text = renderAuthorization({ namespace: sentinel, passwords: envPasswords(), notifySubject: notify });
  return text
    .replaceAll('ZQ_NS_ZQ', HELM_PLACEHOLDERS.streamPrefix)
    .replaceAll('zq_ns_zq', HELM_PLACEHOLDERS.kvPrefix)
    .replaceAll(sentinel, HELM_PLACEHOLDERS.namespace)
    .replaceAll(notify, HELM_PLACEHOLDERS.notifySubject);
}

function main(): void {
  const root = resolve(import.meta.dirname, '../..');
  for (const [file, text] of [
    [COMPOSE_AUTH_FILE, composeAuthorization()],
    [HELM_AUTH_FILE, helmAuthorization()],
  ] as const) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
    console.log(`wrote ${file}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
