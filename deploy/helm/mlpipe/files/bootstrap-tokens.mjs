// The chart's token bootstrap (templates/bootstrap-tokens.yaml, docs/deploy.md#first-tokens), run by
// node in the registry image. For each wanted token whose Secret holds none yet, it runs the
// registry's own `mlpipe-tokens create` and writes what it prints into that Secret. A Secret that
// already has a token is left alone, so the Job can run on every install and upgrade and makes each
// token once. Plain JavaScript, only Node's own modules: it is mounted from a ConfigMap, outside the
// image's code. The token is never logged.
/* global fetch */
import { Buffer } from 'node:buffer';
import { execFile } from 'node:child_process';
import console from 'node:console';
import { readFile } from 'node:fs/promises';
import process from 'node:process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const env = process.env;
// In a pod these come from the service account; a test points them elsewhere.
const accountDir = env.MLPIPE_SERVICE_ACCOUNT_DIR ?? '/var/run/secrets/kubernetes.io/serviceaccount';
const apiServer = env.MLPIPE_KUBE_API ?? `https://${env.KUBERNETES_SERVICE_HOST}:${env.KUBERNETES_SERVICE_PORT}`;
const tokensCli = env.MLPIPE_TOKENS_CLI ?? '/app/libs/auth/src/bin/mlpipe-tokens.mjs';

/** The wanted tokens: [{ secret, name, role }], from MLPIPE_BOOTSTRAP_TOKENS (the chart writes it). */
function wantedTokens() {
  const list = JSON.parse(env.MLPIPE_BOOTSTRAP_TOKENS ?? '[]');
  if (!Array.isArray(list) || !list.every((t) => t && typeof t.secret === 'string' && typeof t.name === 'string' && typeof t.role === 'string')) {
    throw new Error('MLPIPE_BOOTSTRAP_TOKENS must be a JSON list of { secret, name, role }');
  }
  return list;
}

async function kube(path, init = {}) {
  const bearer = (await readFile(`${accountDir}/token`, 'utf8')).trim();
  const res = await fetch(`${apiServer}${path}`, { ...init, headers: { authorization: `Bearer ${bearer}`, accept: 'application/json', ...init.headers } });
  const body = await res.text();
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${body.slice(0, 300)}`);
  return JSON.parse(body);
}

async function createToken(name, role) {
  // --quiet: the token alone on stdout. The CLI migrates the auth schema itself.
  const { stdout } = await run(process.execPath, [tokensCli, 'create', '--name', name, '--role', role, '--quiet'], { env, timeout: 120_000 });
  const token = stdout.trim();
  if (!token || token.includes('\n')) throw new Error('mlpipe-tokens create printed no single token');
  return token;
}

async function bootstrap(namespace, { secret, name, role }) {
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(secret)}`;
  const live = await kube(path);
  if (live.data?.token) {
    console.log(`Secret ${secret} already holds a token: nothing to do`);
    return;
  }
  const token = await createToken(name, role);
  // The resourceVersion makes the write fail (409) if someone changed the Secret since it was read,
  // rather than overwrite a token written meanwhile; the Job's retry then finds that one.
  await kube(path, {
    method: 'PATCH',
    headers: { 'content-type': 'application/merge-patch+json' },
    body: JSON.stringify({ metadata: { resourceVersion: live.metadata.resourceVersion }, data: { token: Buffer.from(token).toString('base64') } }),
  });
  console.log(`created a token for "${name}" (role ${role}) into Secret ${secret}, key "token"`);
}

try {
  const namespace = env.MLPIPE_NAMESPACE ?? (await readFile(`${accountDir}/namespace`, 'utf8')).trim();
  for (const wanted of wantedTokens()) await bootstrap(namespace, wanted);
} catch (err) {
  console.error(`bootstrap-tokens: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
