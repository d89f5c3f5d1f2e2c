import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenStore } from '@mlpipe/auth';
import { createPool, type Pool } from '@mlpipe/db';
import { createTestDatabase } from '@mlpipe/testing';
import { parseManifests, type K8sObject } from '../validate/src/manifests';
import { chartDir, helm, repoRoot } from '../validate/src/tools';

/**
 * The chart's token bootstrap script (files/bootstrap-tokens.mjs) run as its Job runs it: node, the
 * registry's real `mlpipe-tokens` CLI against a real PostgreSQL database, and the token list the
 * chart renders. There is no cluster here, so the Kubernetes API is a small stand-in serving the
 * Secrets endpoints the script uses (GET, and PATCH as a JSON merge patch with resourceVersion
 * checks), with the service-account bearer check.
 */
const SCRIPT = join(chartDir, 'files/bootstrap-tokens.mjs');
const CLI = join(repoRoot, 'libs/auth/src/bin/mlpipe-tokens.mjs');
const NAMESPACE = 'mlpipe-test';
const BEARER = 'service-account-token';

interface StoredSecret {
  metadata: { name: string; namespace: string; resourceVersion: string };
  data?: Record<string, string>;
}

/** A stand-in for the API server's Secret endpoints, with the Secrets it holds and the calls it saw. */
function fakeSecretsApi() {
  const secrets = new Map<string, StoredSecret>();
  const calls: string[] = [];
  let version = 1;
  const read = async (req: IncomingMessage) => {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    return body;
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      calls.push(`${req.method} ${req.url}`);
      const reply = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.headers.authorization !== `Bearer ${BEARER}`) return reply(401, { message: 'Unauthorized' });
      const m = /^\/api\/v1\/namespaces\/([^/]+)\/secrets\/([^/]+)$/.exec(req.url ?? '');
      const secret = m && m[1] === NAMESPACE ? secrets.get(decodeURIComponent(m[2]!)) : undefined;
      if (!secret) return reply(404, { message: 'secrets not found' });
      if (req.method === 'GET') return reply(200, secret);
      if (req.method === 'PATCH' && req.headers['content-type'] === 'application/merge-patch+json') {
        const patch = JSON.parse(await read(req)) as { metadata?: { resourceVersion?: string }; data?: Record<string, string> };
        if (patch.metadata?.resourceVersion && patch.metadata.resourceVersion !== secret.metadata.resourceVersion) return reply(409, { message: 'the object has been modified' });
        secret.data = { ...secret.data, ...patch.data };
        secret.metadata.resourceVersion = String(++version);
        return reply(200, secret);
      }
      return reply(405, { message: 'method not allowed' });
    })();
  });
  const put = (name: string, data?: Record<string, string>) => secrets.set(name, { metadata: { name, namespace: NAMESPACE, resourceVersion: String(++version) }, ...(data ? { data } : {}) });
  return { server, secrets, calls, put };
}

/** The token list the chart gives the Job (MLPIPE_BOOTSTRAP_TOKENS), rendered by helm. */
function chartTokens(release = 'mlpipe', extra: string[] = []): string {
  const job = parseManifests(helm(['template', release, chartDir, ...extra])).find((o) => o.kind === 'Job') as K8sObject & {
    spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
  };
  return job.spec.template.spec.containers[0]!.env.find((e) => e.name === 'MLPIPE_BOOTSTRAP_TOKENS')!.value!;
}

describe('the chart\'s token bootstrap (files/bootstrap-tokens.mjs)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;
  let api: ReturnType<typeof fakeSecretsApi>;
  let accountDir: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = await createPool(db.url, 2);
    api = fakeSecretsApi();
    await new Promise<void>((resolve) => api.server.listen(0, '127.0.0.1', resolve));
    accountDir = mkdtempSync(join(tmpdir(), 'mlpipe-sa-'));
    writeFileSync(join(accountDir, 'token'), `${BEARER}\n`);
    writeFileSync(join(accountDir, 'namespace'), NAMESPACE);
  }, 30_000);

  afterAll(async () => {
    await new Promise((resolve) => api?.server.close(resolve));
    await pool?.end();
    await db?.drop();
  });

  const runScript = (tokens: string) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [SCRIPT], {
        env: {
          PATH: process.env.PATH,
          DATABASE_URL: db.url,
          MLPIPE_BOOTSTRAP_TOKENS: tokens,
          MLPIPE_SERVICE_ACCOUNT_DIR: accountDir,
          MLPIPE_KUBE_API: `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`,
          MLPIPE_TOKENS_CLI: CLI,
        },
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += String(d)));
      child.stderr.on('data', (d: Buffer) => (out += String(d)));
      child.on('close', (code) => resolve({ code, out }));
    });
  const tokenIn = (secret: string) => {
    const b64 = api.secrets.get(secret)?.data?.token;
    return b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString();
  };

  it('writes a working admin token and a viewer token for the gateway into their empty Secrets, and never prints them', async () => {
    api.put('mlpipe-admin-token');
    api.put('mlpipe-gateway-registry-token');
    const run = await runScript(chartTokens());
    expect(run.code, run.out).toBe(0);
    const store = new TokenStore(pool);
    const admin = tokenIn('mlpipe-admin-token')!;
    const gateway = tokenIn('mlpipe-gateway-registry-token')!;
    expect(await store.resolve(admin)).toMatchObject({ name: 'admin', role: 'admin' });
    expect(await store.resolve(gateway)).toMatchObject({ name: 'gateway', role: 'viewer' });
    expect(run.out).not.toContain(admin);
    expect(run.out).not.toContain(gateway);
    expect(run.out).toMatch(/created a token for "admin" \(role admin\) into Secret mlpipe-admin-token/);
  }, 60_000);

  it('leaves Secrets that already hold a token alone, and makes no new token (an upgrade, a rerun)', async () => {
    const before = { admin: tokenIn('mlpipe-admin-token'), gateway: tokenIn('mlpipe-gateway-registry-token') };
    const live = (await new TokenStore(pool).list()).length;
    api.calls.length = 0;
    const run = await runScript(chartTokens());
    expect(run.code, run.out).toBe(0);
    expect(run.out.match(/already holds a token: nothing to do/g)).toHaveLength(2);
    expect(api.calls.every((c) => c.startsWith('GET '))).toBe(true);
    expect({ admin: tokenIn('mlpipe-admin-token'), gateway: tokenIn('mlpipe-gateway-registry-token') }).toEqual(before);
    expect(await new TokenStore(pool).list()).toHaveLength(live);
  }, 60_000);

  it('fails, saying why, when its Secret is missing or the API server refuses it', async () => {
    const missing = await runScript(chartTokens('other', ['--set', 'auth.gateway.registryTokenSecret=own', '--set', 'auth.bootstrap.adminName=root']));
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/bootstrap-tokens: GET \/api\/v1\/namespaces\/mlpipe-test\/secrets\/other-admin-token: 404/);
    writeFileSync(join(accountDir, 'token'), 'not-the-account');
    try {
      const refused = await runScript(chartTokens());
      expect(refused.code).toBe(1);
      expect(refused.out).toMatch(/: 401 /);
    } finally {
      writeFileSync(join(accountDir, 'token'), `${BEARER}\n`);
    }
  }, 60_000);
});
