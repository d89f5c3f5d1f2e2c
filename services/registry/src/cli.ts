import { parseArgs } from 'node:util';
import { describeError, ValidationError } from '@mlpipe/common';

const USAGE = `usage: mlpipe-registry models
       mlpipe-registry versions MODEL
       mlpipe-registry promote MODEL VERSION [--alias champion|challenger] --reason TEXT
       mlpipe-registry audit [MODEL]
(REGISTRY_URL, default http://127.0.0.1:8081; MLPIPE_TOKEN: an API token, sent as a bearer token;
 promote needs an admin token, and the audit log names the token's principal)`;

type Json = Record<string, unknown>;

async function call(base: string, path: string, init: RequestInit = {}): Promise<Json> {
  const token = process.env.MLPIPE_TOKEN;
  const headers = new Headers(init.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, { ...init, headers });
  } catch {
    throw new Error(`the registry at ${base} does not answer: is it running?`);
  }
  const body = (await res.json().catch(() => ({}))) as Json;
  if (!res.ok) {
    const reason = typeof body.error === 'string' ? body.error : `HTTP ${res.status}`;
    throw new Error(res.status === 401 && !token ? `${reason} (set MLPIPE_TOKEN)` : reason);
  }
  return body;
}

const pct = (x: unknown) => (typeof x === 'number' ? `${(x * 100).toFixed(2)}%` : '-');

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { alias: { type: 'string', default: 'champion' }, reason: { type: 'string' }, help: { type: 'boolean' } },
  });
  const [command, a, b] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const base = (process.env.REGISTRY_URL ?? 'http://127.0.0.1:8081').replace(/\/$/, '');
  switch (command) {
    case 'models': {
      const { models } = (await call(base, '/models')) as { models: { name: string; versions: number; aliases: Json }[] };
      for (const m of models) console.log(`${m.name}  ${m.versions} versions  ${Object.entries(m.aliases).map(([k, v]) => `${k}=v${String(v)}`).join(' ')}`);
      if (!models.length) console.log('no models yet');
      return 0;
    }
    case 'versions': {
      if (!a) throw new ValidationError('versions needs a MODEL');
      const model = (await call(base, `/models/${encodeURIComponent(a)}`)) as { versionList: Json[] };
      for (const v of model.versionList) {
        console.log(`v${String(v.version)}  test ${pct(v.testAccuracy)}  ${(v.aliases as string[]).join(',') || '-'}  run ${String(v.runId)}`);
      }
      return 0;
    }
    case 'promote': {
      const version = Number(b);
      if (!a || !Number.isInteger(version) || version < 1) throw new ValidationError('promote needs MODEL and a VERSION number');
      if (!values.reason) throw new ValidationError('promote needs --reason "why"');
      const change = await call(base, `/models/${encodeURIComponent(a)}/aliases/${encodeURIComponent(values.alias ?? 'champion')}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ version, reason: values.reason }),
      });
      console.log(`${a} ${String(change.alias)} → v${String(change.version)} (was ${change.previousVersion ? `v${String(change.previousVersion)}` : 'unset'})`);
      return 0;
    }
    case 'audit': {
      const { entries } = (await call(base, `/audit${a ? `?model=${encodeURIComponent(a)}` : ''}`)) as { entries: Json[] };
      for (const e of entries) console.log(`${String(e.at)}  ${String(e.actor)}  ${String(e.action)}  ${String(e.model)} v${String(e.version)}  ${String(e.decision)}: ${String(e.reason)}`);
      return 0;
    }
    default:
      throw new ValidationError(`unknown command "${command}"; run with --help`);
  }
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`mlpipe-registry: ${describeError(err)}`);
    process.exit(1);
  },
);
