import { randomBytes } from 'node:crypto';
import { migrate, type Migration, type Pool } from '@mlpipe/db';
import { NotFoundError, ValidationError } from '@mlpipe/common';
import { formatToken, hashToken, TOKEN_ID_PATTERN, TOKEN_PATTERN } from '../core/tokens';
import { RoleSchema, type Principal, type Role } from '../core/roles';

/** The tokens live in their own schema of the registry's database (the registry migrates it at start-up). */
export const AUTH_SCHEMA = 'auth';

export const authMigrations: readonly Migration[] = [
  {
    id: '001_api_tokens',
    sql: `
      create table api_tokens (
        id text primary key,
        name text not null,
        role text not null check (role in ('viewer', 'operator', 'admin')),
        token_sha256 text not null unique,
        created_at timestamptz not null default now(),
        last_used_at timestamptz,
        revoked_at timestamptz
      );`,
  },
];

export interface TokenRecord {
  id: string;
  name: string;
  role: Role;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

interface Row {
  id: string;
  name: string;
  role: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const toRecord = (r: Row): TokenRecord => ({
  id: r.id,
  name: r.name,
  role: RoleSchema.parse(r.role),
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

/** A principal name: what the audit log records as the actor. */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9@._ -]{0,99}$/;

/** API tokens in PostgreSQL: only their SHA-256 is kept; the token itself is shown once, at creation. */
export class TokenStore {
  constructor(private readonly pool: Pool) {}

  async migrate(): Promise<void> {
    await migrate(this.pool, AUTH_SCHEMA, authMigrations);
  }

  async create(name: string, role: Role): Promise<{ token: string; record: TokenRecord }> {
    if (!NAME_PATTERN.test(name)) throw new ValidationError(`a token name is 1-100 letters, digits, spaces or @._- (starting with a letter or digit), got "${name}"`);
    const { id, token } = formatToken(randomBytes(4), randomBytes(32));
    const r = await this.pool.query<Row>(
      `insert into ${AUTH_SCHEMA}.api_tokens (id, name, role, token_sha256) values ($1, $2, $3, $4) returning *`,
      [id, name, RoleSchema.parse(role), hashToken(token)],
    );
    return { token, record: toRecord(r.rows[0]!) };
  }

  async list(opts: { includeRevoked?: boolean } = {}): Promise<TokenRecord[]> {
    const r = await this.pool.query<Row>(
      `select * from ${AUTH_SCHEMA}.api_tokens ${opts.includeRevoked ? '' : 'where revoked_at is null'} order by created_at, id`,
    );
    return r.rows.map(toRecord);
  }

  /** Revokes by public id; revoking twice is a no-op that says so. */
  async revoke(id: string): Promise<{ record: TokenRecord; already: boolean }> {
    if (!TOKEN_ID_PATTERN.test(id)) throw new ValidationError(`a token id is 8 hex digits (see "mlpipe-tokens list"), got "${id}"`);
    // The row as it was before the update tells whether this call revoked it.
    const r = await this.pool.query<Row & { was_revoked: boolean }>(
      `update ${AUTH_SCHEMA}.api_tokens t set revoked_at = coalesce(t.revoked_at, now())
         from ${AUTH_SCHEMA}.api_tokens old where t.id = $1 and old.id = t.id
       returning t.*, old.revoked_at is not null as was_revoked`,
      [id],
    );
    const row = r.rows[0];
    if (!row) throw new NotFoundError(`no token ${id} (see "mlpipe-tokens list")`);
    return { record: toRecord(row), already: row.was_revoked };
  }

  /** The principal of a live token (and its last use stamped), or undefined for unknown and revoked ones. */
  async resolve(token: string): Promise<Principal | undefined> {
    if (!TOKEN_PATTERN.test(token)) return undefined;
    const r = await this.pool.query<Pick<Row, 'name' | 'role'>>(
      `update ${AUTH_SCHEMA}.api_tokens set last_used_at = now() where token_sha256 = $1 and revoked_at is null returning name, role`,
      [hashToken(token)],
    );
    const row = r.rows[0];
    return row ? { name: row.name, role: RoleSchema.parse(row.role), via: 'token' } : undefined;
  }
}
