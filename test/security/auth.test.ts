import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { connectBus, publishEvent, useStreamLimits, deleteStreams, ensureStreams, type Bus } from '@mlpipe/bus';
import { eventually } from '@mlpipe/common';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { createObjectStore } from '@mlpipe/storage';
import { createTestDatabase, TEST_STREAM_LIMITS } from '@mlpipe/testing';
import { completed, putArtefacts } from '../../services/registry/test/fixtures';
import { authGuardOf, startGateway, type RunningGateway } from '../../services/gateway/src/service';
import { buildEdge } from '../../services/gateway/src/edge';
import { ReplicaPool } from '../../services/gateway/src/adapters/replicaPool';

const root = resolve(import.meta.dirname, '../..');
const ISSUER = 'https://idp.test.local/realms/mlpipe';
const AUDIENCE = 'mlpipe';

/** mlpipe-tokens as an operator runs it: the installed command, against the registry's database. */
function tokensCli(databaseUrl: string, args: string[]) {
  const r = spawnSync(process.execPath, [join(root, 'libs/auth/src/bin/mlpipe-tokens.mjs'), ...args], { cwd: root, env: { ...process.env, DATABASE_URL: databaseUrl }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout.trim().split('\n').filter(Boolean), stderr: r.stderr.trim().split('\n').filter(Boolean) };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((done) => s.listen(0, '127.0.0.1', done));
  const { port } = s.address() as AddressInfo;
  await new Promise((done) => s.close(done));
  return port;
}

/** The identity provider's key set, served the way a provider serves its jwks_uri. */
async function serveJwks(keys: object[]): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/jwks' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(req.url === '/jwks' ? { keys } : {}));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`, server };
}

/**
 * Who may move an alias, against the registry as a real process (its own database, namespace and
 * store folder), reads closed to anonymous callers (AUTH_ANONYMOUS_ROLE=none), tokens made and revoked
 * with the real CLI, and JWTs from a local identity provider (its JWKS on a local HTTP server).
 */
describe('registry authentication and roles (a real registry process)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let storeRoot: string;
  let bus: Bus;
  let registry: ChildProcess;
  let registryLog = '';
  let url = '';
  let jwks: { url: string; server: Server };
  let idpKey: CryptoKey;
  let strangerKey: CryptoKey;
  const tokens: Record<'admin' | 'viewer', { token: string; id: string }> = { admin: { token: '', id: '' }, viewer: { token: '', id: '' } };

  const promote = (headers: Record<string, string>, version = 2) =>
    fetch(`${url}/models/mnist/aliases/champion`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ version, reason: 'security test' }) });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const jwt = (claims: Record<string, unknown>, key: CryptoKey = idpKey, opts: { audience?: string; expires?: string } = {}) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'idp-1' }).setIssuer(ISSUER).setAudience(opts.audience ?? AUDIENCE).setIssuedAt().setExpirationTime(opts.expires ?? '5m').sign(key);

  beforeAll(async () => {
    db = await createTestDatabase();
    storeRoot = await mkdtemp(join(tmpdir(), 'mlpipe-sec-auth-'));
    const pair = await generateKeyPair('ES256');
    idpKey = pair.privateKey;
    strangerKey = (await generateKeyPair('ES256')).privateKey;
    jwks = await serveJwks([{ ...(await exportJWK(pair.publicKey)), kid: 'idp-1', alg: 'ES256', use: 'sig' }]);
    const namespace = `sec${randomBytes(4).toString('hex')}`;
    bus = await connectBus({ url: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', name: 'auth-test', namespace });
    useStreamLimits(bus, TEST_STREAM_LIMITS);
    await ensureStreams(bus);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    registry = spawn(process.execPath, ['--import', 'tsx', join(root, 'services/registry/src/main.ts')], {
      cwd: root,
      env: {
        ...process.env, DATABASE_URL: db.url, BUS_NAMESPACE: namespace, STORE_KIND: 'fs', STORE_ROOT: storeRoot, HTTP_PORT: String(port), LOG_LEVEL: 'warn',
        AUTH_ANONYMOUS_ROLE: 'none', OIDC_JWKS_URL: jwks.url, OIDC_ISSUER: ISSUER, OIDC_AUDIENCE: AUDIENCE, OIDC_ROLE_CLAIM: 'groups',
        ...Object.fromEntries(Object.entries(TEST_STREAM_LIMITS).flatMap(([s, l]) => [[`STREAM_${s}_MAX_AGE_MS`, String(l.maxAgeMs)], [`STREAM_${s}_MAX_BYTES`, String(l.maxBytes)]])),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    registry.stdout?.on('data', (d: Buffer) => (registryLog += d.toString()));
    registry.stderr?.on('data', (d: Buffer) => (registryLog += d.toString()));
    await eventually(async () => (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)) || undefined, 90_000, `the registry process to be ready (log: ${registryLog.slice(-500)})`);

    // Two versions, as trainers would have announced them: v1 becomes champion, v2 waits.
    const store = createObjectStore({ kind: 'fs', root: storeRoot });
    for (const [job, acc] of [['job-1', 0.97], ['job-2', 0.95]] as const) {
      await putArtefacts(store, job);
      await publishEvent(bus, 'train.job.completed', completed(job, acc), { source: 'test' });
    }
    for (const role of ['admin', 'viewer'] as const) {
      const made = tokensCli(db.url, ['create', '--name', role === 'admin' ? 'alice' : 'victor', '--role', role]);
      expect(made.code, made.stderr.join('\n')).toBe(0);
      tokens[role] = { token: made.stdout[1]!, id: /created token ([0-9a-f]{8})/.exec(made.stdout[0]!)![1]! };
    }
    await eventually(async () => (await fetch(`${url}/models/mnist/versions/2`, { headers: bearer(tokens.viewer.token) })).ok || undefined, 30_000, 'v2 registered');
  }, 150_000);

  afterAll(async () => {
    registry?.kill('SIGTERM');
    await new Promise((done) => (registry?.exitCode !== null ? done(undefined) : registry.once('exit', done)));
    await deleteStreams(bus).catch(() => undefined);
    await bus?.close();
    await new Promise((done) => jwks?.server.close(done));
    await db?.drop();
    await rm(storeRoot, { recursive: true, force: true });
  });

  it('answers a promotion without a token with 401 in the error shape, and moves nothing', async () => {
    const res = await promote({ 'x-actor': 'ceo' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    const body = (await res.json()) as { error: string; code: string };
    expect(body).toEqual({ error: expect.stringMatching(/needs role admin/), code: 'unauthorized' });
    // Reads are closed too with AUTH_ANONYMOUS_ROLE=none.
    expect((await fetch(`${url}/models/mnist`)).status).toBe(401);
    const champion = (await (await fetch(`${url}/models/mnist/aliases/champion`, { headers: bearer(tokens.viewer.token) })).json()) as { version: number };
    expect(champion.version).toBe(1);
  });

  it('answers a viewer token with 403, and a made-up or malformed token with 401', async () => {
    const res = await promote(bearer(tokens.viewer.token));
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: 'victor has role viewer; this needs admin', code: 'forbidden' });
    const forged = await promote(bearer(`mlp_${tokens.admin.id}_${'A'.repeat(43)}`));
    expect(forged.status).toBe(401);
    expect(((await forged.json()) as { code: string }).code).toBe('unauthorized');
    expect((await promote({ authorization: 'Basic YWxpY2U6cHc=' })).status).toBe(401);
  });

  it('lets an admin token promote, and the audit log names the token principal, not x-actor', async () => {
    const res = await promote({ ...bearer(tokens.admin.token), 'x-actor': 'ceo' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ alias: 'champion', version: 2, previousVersion: 1, actor: 'alice' });
    const { entries } = (await (await fetch(`${url}/audit?model=mnist&limit=1`, { headers: bearer(tokens.viewer.token) })).json()) as { entries: { actor: string; version: number; reason: string }[] };
    expect(entries[0]).toMatchObject({ actor: 'alice', version: 2, reason: 'security test' });
    const who = await (await fetch(`${url}/auth/whoami`, { headers: bearer(tokens.admin.token) })).json();
    expect(who).toEqual({ name: 'alice', role: 'admin', via: 'token' });
    // Listed with its last use; the table holds only hashes.
    const list = tokensCli(db.url, ['list']);
    expect(list.stdout.find((l) => l.startsWith(tokens.admin.id))).toMatch(/alice {2}admin {2}created \S+ {2}last used 20\d\d-/);
    expect(list.stdout.join('\n')).not.toContain(tokens.admin.token);
  });

  it('refuses a revoked token with 401 at once', async () => {
    const revoked = tokensCli(db.url, ['revoke', tokens.admin.id]);
    expect(revoked).toMatchObject({ code: 0, stdout: [`revoked token ${tokens.admin.id} (alice, admin)`] });
    const res = await promote(bearer(tokens.admin.token), 1);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'the token is unknown or revoked', code: 'unauthorized' });
    expect(tokensCli(db.url, ['list', '--all']).stdout.find((l) => l.startsWith(tokens.admin.id))).toMatch(/revoked 20\d\d-/);
  });

  it('gives an OIDC JWT from the configured provider the role its claim names', async () => {
    const olga = await jwt({ sub: 'u-1', preferred_username: 'olga', groups: ['staff', 'admin'] });
    expect(await (await fetch(`${url}/auth/whoami`, { headers: bearer(olga) })).json()).toEqual({ name: 'olga', role: 'admin', via: 'oidc' });
    const res = await promote(bearer(olga), 1);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ version: 1, actor: 'olga' });
    const reader = await jwt({ sub: 'u-2', preferred_username: 'rita', groups: ['viewer'] });
    expect((await promote(bearer(reader))).status).toBe(403);
  });

  it('refuses JWTs signed by another key, for another audience, expired, or without a role', async () => {
    const cases = {
      'another key': await jwt({ sub: 'x', groups: ['admin'] }, strangerKey),
      'another audience': await jwt({ sub: 'x', groups: ['admin'] }, idpKey, { audience: 'someone-else' }),
      expired: await jwt({ sub: 'x', groups: ['admin'] }, idpKey, { expires: '-1m' }),
      'no role': await jwt({ sub: 'x', groups: ['staff'] }),
    };
    for (const [what, token] of Object.entries(cases)) {
      const res = await promote(bearer(token), 2);
      expect(res.status, what).toBe(401);
      expect(((await res.json()) as { code: string }).code, what).toBe('unauthorized');
    }
  });

  it('keeps inference open or closed by GATEWAY_AUTH (the gateway checks tokens with this registry)', async () => {
    const viewer = tokens.viewer.token;
    const metrics = createMetricsRegistry('sec-gw');
    const logger = createLogger('sec-gw', 'silent');
    const gateways: RunningGateway[] = [];
    try {
      for (const mode of ['open', 'token'] as const) {
        const gw = startGateway({ registryUrl: url, bus, logger, metrics: mode === 'open' ? metrics : createMetricsRegistry('sec-gw2'), registryToken: viewer, guard: authGuardOf({ GATEWAY_AUTH: mode, REGISTRY_URL: url, AUTH_CACHE_MS: 0 }) });
        gateways.push(gw);
        const gwUrl = await gw.app.listen({ port: 0, host: '127.0.0.1' });
        const anonymous = await fetch(`${gwUrl}/v2/models/mnist`);
        const predict = await fetch(`${gwUrl}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pixels: Array(784).fill(0) }) });
        expect((await fetch(`${gwUrl}/v2/health/live`)).status).toBe(200);
        if (mode === 'open') {
          expect(anonymous.status).toBe(200);
          expect(predict.status).not.toBe(401);
        } else {
          expect(anonymous.status).toBe(401);
          expect(predict.status).toBe(401);
          expect(await predict.json()).toMatchObject({ code: 'unauthorized' });
          expect((await fetch(`${gwUrl}/v2/models/mnist`, { headers: bearer(viewer) })).status).toBe(200);
          // A token revoked at the registry is refused by the gateway on its next check (AUTH_CACHE_MS=0 here).
          const made = tokensCli(db.url, ['create', '--name', 'gina', '--role', 'viewer']);
          const gina = made.stdout[1]!;
          expect((await fetch(`${gwUrl}/v2/models/mnist`, { headers: bearer(gina) })).status).toBe(200);
          expect(tokensCli(db.url, ['revoke', /created token ([0-9a-f]{8})/.exec(made.stdout[0]!)![1]!]).code).toBe(0);
          expect((await fetch(`${gwUrl}/v2/models/mnist`, { headers: bearer(gina) })).status).toBe(401);
          // An edge in front passes the caller's token on: the replica's check is what admits or refuses here.
          const pool = new ReplicaPool([gwUrl]);
          const edge = buildEdge({ pool, metrics: createMetricsRegistry('sec-edge'), logger, isReady: () => true });
          try {
            const edgeUrl = await edge.listen({ port: 0, host: '127.0.0.1' });
            expect((await fetch(`${edgeUrl}/v2/models/mnist`)).status).toBe(401);
            expect((await fetch(`${edgeUrl}/v2/models/mnist`, { headers: bearer(viewer) })).status).toBe(200);
          } finally {
            await edge.close();
            pool.stop();
          }
        }
      }
    } finally {
      for (const gw of gateways) {
        await gw.app.close();
        await gw.stop();
      }
    }
  });

  it('mlpipe-registry promote sends MLPIPE_TOKEN, and says what is missing without one', () => {
    const registryCli = (env: Record<string, string>) =>
      spawnSync(process.execPath, ['--import', 'tsx', join(root, 'services/registry/src/cli.ts'), 'promote', 'mnist', '2', '--reason', 'from the CLI'], { cwd: root, env: { ...process.env, REGISTRY_URL: url, MLPIPE_TOKEN: '', ...env }, encoding: 'utf8', timeout: 60_000 });
    const anonymous = registryCli({});
    expect(anonymous.status).toBe(1);
    expect(anonymous.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^mlpipe-registry: this needs role admin: .*\(set MLPIPE_TOKEN\)$/)]);
    const made = tokensCli(db.url, ['create', '--name', 'carl', '--role', 'admin', '--quiet']);
    expect(made.stdout).toHaveLength(1);
    const admin = registryCli({ MLPIPE_TOKEN: made.stdout[0]! });
    expect(admin.stderr).toBe('');
    expect(admin.stdout.trim()).toBe('mnist champion → v2 (was v1)');
  });

  it('lets only admins manage tokens over HTTP, showing a new token once and never a hash', async () => {
    const admin = await jwt({ sub: 'u-9', preferred_username: 'ada', groups: ['admin'] });
    const post = (headers: Record<string, string>, body: unknown) => fetch(`${url}/auth/tokens`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    expect((await post({}, { name: 'eve', role: 'admin' })).status).toBe(401);
    expect((await post(bearer(tokens.viewer.token), { name: 'eve', role: 'admin' })).status).toBe(403);
    expect((await fetch(`${url}/auth/tokens`, { headers: bearer(tokens.viewer.token) })).status).toBe(403);
    const bad = await post(bearer(admin), { name: 'x', role: 'root' });
    expect(bad.status).toBe(400);
    const made = await post(bearer(admin), { name: 'ci', role: 'operator' });
    expect(made.status).toBe(201);
    const created = (await made.json()) as { token: string; id: string; name: string; role: string };
    expect(created).toMatchObject({ name: 'ci', role: 'operator', token: expect.stringMatching(/^mlp_[0-9a-f]{8}_/) });
    expect(await (await fetch(`${url}/auth/whoami`, { headers: bearer(created.token) })).json()).toEqual({ name: 'ci', role: 'operator', via: 'token' });
    const listed = (await (await fetch(`${url}/auth/tokens`, { headers: bearer(admin) })).json()) as { tokens: Record<string, unknown>[] };
    expect(listed.tokens.find((t) => t.id === created.id)).toEqual({ id: created.id, name: 'ci', role: 'operator', createdAt: expect.any(String), lastUsedAt: expect.any(String), revokedAt: null });
    expect(JSON.stringify(listed)).not.toMatch(/mlp_|[0-9a-f]{64}/);
    const revoked = await fetch(`${url}/auth/tokens/${created.id}`, { method: 'DELETE', headers: bearer(admin) });
    expect(await revoked.json()).toMatchObject({ id: created.id, revokedAt: expect.any(String), alreadyRevoked: false });
    expect((await fetch(`${url}/auth/whoami`, { headers: bearer(created.token) })).status).toBe(401);
    expect((await fetch(`${url}/auth/tokens/nothex`, { method: 'DELETE', headers: bearer(admin) })).status).toBe(400);
  });

  it('mlpipe-tokens fails with one readable line and a non-zero code on bad input', () => {
    const cases: [string[], RegExp][] = [
      [['create', '--name', 'bob', '--role', 'boss'], /^mlpipe-tokens: --role must be viewer, operator or admin, got "boss"$/],
      [['create', '--role', 'admin'], /^mlpipe-tokens: create needs --name/],
      [['revoke', 'zz'], /^mlpipe-tokens: a token id is 8 hex digits/],
      [['revoke', 'abcdef12'], /^mlpipe-tokens: no token abcdef12/],
      [['fly'], /^mlpipe-tokens: unknown command "fly"/],
      [['create', '--name', '', '--role', 'viewer'], /^mlpipe-tokens: create needs --name/],
    ];
    for (const [args, line] of cases) {
      const r = tokensCli(db.url, args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toHaveLength(1);
      expect(r.stderr[0]).toMatch(line);
    }
    const down = tokensCli('postgres://postgres@127.0.0.1:1/nope', ['list']);
    expect(down.code).toBe(1);
    expect(down.stderr).toEqual(['mlpipe-tokens: cannot reach PostgreSQL at postgres://postgres@127.0.0.1:1/nope: start it, or create the database (createdb nope)']);
  });
});
