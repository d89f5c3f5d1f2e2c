import { NATS_USERS, permissionsOf, type NatsUser, type SubjectContext } from './accounts';

/**
 * Renders the nats-server `authorization { users = [...] }` block from NATS_RIGHTS (accounts.ts),
 * for one namespace. Every deployment renders it from here: docker-compose and the Helm chart use
 * the committed renderings under deploy/nats/ (scripts/generate-nats-config.ts writes them, a test
 * holds them to this code), the demo and the tests render it with their own passwords.
 */

/** A user's password: written into the file, or read by nats-server from an environment variable. */
export type PasswordSource = { literal: string } | { env: string };

export interface AuthorizationOptions extends Partial<Omit<SubjectContext, 'namespace'>> {
  namespace: string;
  /** Every user's password; users without one are left out (e.g. `minio` where no MinIO notifies). */
  passwords: Partial<Record<NatsUser, PasswordSource>>;
}

/** The environment variable a rendering with env passwords reads a user's password from. */
export function passwordEnvOf(user: NatsUser): string {
  return `MLPIPE_NATS_PASSWORD_${user.toUpperCase().replace(/-/g, '_')}`;
}

/** Passwords read from MLPIPE_NATS_PASSWORD_<USER> by nats-server, for every user. */
export function envPasswords(): Record<NatsUser, PasswordSource> {
  return Object.fromEntries(NATS_USERS.map((u) => [u, { env: passwordEnvOf(u) }])) as Record<NatsUser, PasswordSource>;
}

const quote = (s: string) => {
  // nats-server's config strings: keep to characters that need no escaping, so what we write is what it reads.
  if (!/^[A-Za-z0-9$_.>*@:/+=-]+$/.test(s)) throw new Error(`cannot write "${s}" into a nats-server config`);
  return `"${s}"`;
};

function passwordOf(user: NatsUser, source: PasswordSource): string {
  if ('env' in source) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(source.env)) throw new Error(`${user}: "${source.env}" is not an environment variable name`);
    return `$${source.env}`;
  }
  if (source.literal.length < 12) throw new Error(`${user}: a NATS password needs 12 characters at least`);
  return quote(source.literal);
}

const list = (items: string[], indent: string) => (items.length ? `[\n${items.map((i) => `${indent}  ${quote(i)}`).join(',\n')}\n${indent}]` : '[]');

/** The `authorization` block (a nats-server config fragment, for `include` or a whole config). */
export function renderAuthorization(opts: AuthorizationOptions): string {
  const users: string[] = [];
  for (const user of NATS_USERS) {
    const password = opts.passwords[user];
    if (!password) continue;
    const p = permissionsOf(user, opts.namespace, opts);
    const pad = '        ';
    users.push(
      [
        '    {',
        `      user: ${quote(user)}`,
        `      password: ${passwordOf(user, password)}`,
        '      permissions: {',
        `        publish: { allow: ${list(p.publish, pad)} }`,
        // Nothing to subscribe: deny all (an absent subscribe section would allow everything).
        p.subscribe.length ? `        subscribe: { allow: ${list(p.subscribe, pad)} }` : `        subscribe: { deny: [">"] }`,
        ...(p.allowResponses ? ['        allow_responses: true'] : []),
        '      }',
        '    }',
      ].join('\n'),
    );
  }
  return [
    `# Generated from libs/bus/src/accounts.ts for namespace "${opts.namespace}": do not edit by hand.`,
    'authorization {',
    '  users = [',
    users.join('\n'),
    '  ]',
    '}',
    '',
  ].join('\n');
}
