import { parseArgs } from 'node:util';
import { BaseConfigSchema, loadConfig } from '@mlpipe/config';
import { createPool, type Pool } from '@mlpipe/db';
import { describeError } from '@mlpipe/common';
import { RoleSchema, type Role } from './core/roles';
import { TokenStore, type TokenRecord } from './adapters/tokenStore';

/** mlpipe-tokens: create, list and revoke API tokens in the registry's database (src/bin/mlpipe-tokens.mjs runs it). */

export const TOKENS_USAGE = `usage: mlpipe-tokens create --name NAME --role viewer|operator|admin [--quiet]   prints the token (only now)
       mlpipe-tokens list [--all]                                                 live tokens (--all: revoked too)
       mlpipe-tokens revoke ID                                                    ID from list; the token stops working at once
(DATABASE_URL: the registry's database, default postgres://postgres@127.0.0.1:5432/mlpipe)`;

export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
}

class UsageError extends Error {}

type Command = { name: 'create'; who: string; role: Role; quiet: boolean } | { name: 'list'; all: boolean } | { name: 'revoke'; id: string };

/** Checks the arguments before anything connects. */
function parse(argv: string[]): Command | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { name: { type: 'string' }, role: { type: 'string' }, quiet: { type: 'boolean', default: false }, all: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    throw new UsageError(describeError(err));
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  const [name, id, ...rest] = positionals;
  if (rest.length) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
  switch (name) {
    case 'create': {
      if (!values.name) throw new UsageError('create needs --name (the principal the audit log will name)');
      const role = RoleSchema.safeParse(values.role);
      if (!role.success) throw new UsageError(`--role must be viewer, operator or admin, got "${values.role ?? ''}"`);
      if (id) throw new UsageError(`create takes no ID, got "${id}"`);
      return { name, who: values.name, role: role.data, quiet: values.quiet ?? false };
    }
    case 'list':
      if (id || values.name || values.role) throw new UsageError('list takes only --all');
      return { name, all: values.all ?? false };
    case 'revoke':
      if (!id) throw new UsageError('revoke needs the token ID (see mlpipe-tokens list)');
      return { name, id };
    case undefined:
      throw new UsageError('a command is needed: create, list or revoke (--help)');
    default:
      throw new UsageError(`unknown command "${name}": create, list or revoke (--help)`);
  }
}

const when = (d: Date | null) => (d ? d.toISOString() : '-');
export const describeToken = (t: TokenRecord): string =>
  `${t.id}  ${t.name}  ${t.role}  created ${when(t.createdAt)}  last used ${when(t.lastUsedAt)}${t.revokedAt ? `  revoked ${when(t.revokedAt)}` : ''}`;

async function execute(tokens: TokenStore, cmd: Command, io: CliOutput): Promise<number> {
  switch (cmd.name) {
    case 'create': {
      const { token, record } = await tokens.create(cmd.who, cmd.role);
      if (!cmd.quiet) io.out(`created token ${record.id} for ${record.name} (${record.role}); it is shown only now:`);
      io.out(token);
      return 0;
    }
    case 'list': {
      const list = await tokens.list({ includeRevoked: cmd.all });
      for (const t of list) io.out(describeToken(t));
      if (!list.length) io.out('no tokens yet: mlpipe-tokens create --name NAME --role ROLE');
      return 0;
    }
    case 'revoke': {
      const { record, already } = await tokens.revoke(cmd.id);
      io.out(already ? `token ${record.id} (${record.name}) was already revoked` : `revoked token ${record.id} (${record.name}, ${record.role})`);
      return 0;
    }
  }
}

/** Runs mlpipe-tokens; resolves to the exit code (0 done, 1 failed, 2 bad usage), each failure one line on stderr. */
export async function runTokensCli(argv: string[], env: Record<string, string | undefined>, io: CliOutput): Promise<number> {
  let cmd: ReturnType<typeof parse>;
  try {
    cmd = parse(argv);
  } catch (err) {
    io.err(`mlpipe-tokens: ${describeError(err)}`);
    return 2;
  }
  if (cmd === 'help') {
    io.out(TOKENS_USAGE);
    return 0;
  }
  let pool: Pool | undefined;
  try {
    const config = loadConfig(BaseConfigSchema.pick({ DATABASE_URL: true }), env);
    pool = await createPool(config.DATABASE_URL, 1);
    const tokens = new TokenStore(pool);
    await tokens.migrate();
    return await execute(tokens, cmd, io);
  } catch (err) {
    io.err(`mlpipe-tokens: ${describeError(err)}`);
    return 1;
  } finally {
    await pool?.end();
  }
}
