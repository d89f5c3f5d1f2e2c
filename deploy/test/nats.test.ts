import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { NATS_USERS, envPasswords, passwordEnvOf, renderAuthorization, type NatsUser } from '@mlpipe/bus';
import { COMPOSE_AUTH_FILE, DOCS_FILE, HELM_AUTH_FILE, composeAuthorization, helmAuthorization, usersTable } from '../scripts/generate-nats-config';
import { renderChart, type K8sObject } from '../validate/src/manifests';
import { repoRoot } from '../validate/src/tools';

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
const read = (file: string) => readFileSync(join(repoRoot, file), 'utf8');

interface ComposeService {
  command?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
}
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, ComposeService> };

/** nats-server's own check of a config (-t), with every user's password variable set. */
function serverAccepts(configText: string): { ok: boolean; output: string } {
  expect(existsSync(NATS_SERVER), `no nats-server at ${NATS_SERVER}`).toBe(true);
  const dir = mkdtempSync(join(tmpdir(), 'mlpipe-nats-conf-'));
  const file = join(dir, 'auth.conf');
  writeFileSync(file, configText);
  const env = Object.fromEntries(NATS_USERS.map((u) => [passwordEnvOf(u), `pw-${u}`]));
  const r = spawnSync(NATS_SERVER, ['-c', file, '-t'], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

describe('the NATS authorization docker-compose and Helm ship (rendered from libs/bus/src/accounts.ts)', () => {
  it('the committed renderings are what the user table renders today', () => {
    expect(read(COMPOSE_AUTH_FILE), `regenerate: npx tsx deploy/scripts/generate-nats-config.ts`).toBe(composeAuthorization());
    expect(read(HELM_AUTH_FILE), `regenerate: npx tsx deploy/scripts/generate-nats-config.ts`).toBe(helmAuthorization());
    // The users table of docs/security.md too.
    expect(read(DOCS_FILE), `regenerate: npx tsx deploy/scripts/generate-nats-config.ts`).toContain(usersTable());
  });

  it('nats-server accepts the compose config, and refuses one missing a password variable', () => {
    const good = serverAccepts(read(COMPOSE_AUTH_FILE));
    expect(good.output).toMatch(/is valid/);
    expect(good.ok).toBe(true);
    const missing = serverAccepts(read(COMPOSE_AUTH_FILE).replace(`$${passwordEnvOf('trainer')}`, '$NOT_SET_ANYWHERE'));
    expect(missing.ok).toBe(false);
    expect(missing.output).toMatch(/NOT_SET_ANYWHERE/);
  });

  it('compose: NATS runs the config, every NATS client logs in as its own user with the password the server expects', () => {
    const nats = compose.services.nats!;
    expect(nats.command?.slice(0, 2)).toEqual(['-c', '/etc/nats/mlpipe-auth.conf']);
    expect(nats.volumes).toContain(`./${COMPOSE_AUTH_FILE}:/etc/nats/mlpipe-auth.conf:ro`);
    const serverSide = nats.environment ?? {};
    expect(Object.keys(serverSide).sort()).toEqual(NATS_USERS.map(passwordEnvOf).sort());
    const variableOf = (value: string | undefined) => /^\$\{(NATS_[A-Z_]+_PASSWORD):-[^}]+\}$/.exec(value ?? '')?.[1];
    const expected: Record<string, NatsUser> = {
      registry: 'registry', orchestrator: 'orchestrator', 'dataset-watcher': 'dataset-watcher', trainer: 'trainer',
      'model-1': 'gateway', 'model-2': 'gateway', gateway: 'gateway', ui: 'ui', jobs: 'jobs-cli', dlq: 'ops',
    };
    for (const [name, user] of Object.entries(expected)) {
      const env = compose.services[name]?.environment ?? {};
      expect(env.NATS_USER, name).toBe(user);
      const variable = variableOf(env.NATS_PASSWORD);
      expect(variable, `${name}: NATS_PASSWORD from the environment with a default`).toBeDefined();
      // The same variable feeds the server's copy, so the two cannot disagree.
      expect(variableOf(serverSide[passwordEnvOf(user)]), name).toBe(variable);
    }
    // Every other compose service given a NATS address is in the list above; mlpipe-data (seed, validate) only writes to the store.
    for (const [name, svc] of Object.entries(compose.services)) if (svc.environment?.NATS_URL && name !== 'data') expect(expected[name], `${name} uses NATS_URL`).toBeDefined();
    const minio = compose.services.minio!.environment!;
    expect(minio.MINIO_NOTIFY_NATS_USERNAME_PRIMARY).toBe('minio');
    expect(variableOf(minio.MINIO_NOTIFY_NATS_PASSWORD_PRIMARY)).toBe(variableOf(serverSide[passwordEnvOf('minio')]));
  });

  it('Helm: the ConfigMap is the same table rendered for the release\'s namespace and notify subject', () => {
    const objects = renderChart('prod', ['--set', 'nats.namespace=team-a', '--set', 'services.dataset-watcher.env.DATA_NOTIFY_SUBJECT=bucket.notes']);
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'mlpipe-nats-authorization') as K8sObject & { data: Record<string, string> };
    const text = cm.data['mlpipe-auth.conf']!;
    expect(text).toBe(renderAuthorization({ namespace: 'team-a', passwords: envPasswords(), notifySubject: 'bucket.notes' }));
    expect(text).toContain('"$JS.API.STREAM.INFO.TEAM_A_TRAIN"');
    expect(text).toContain('"$KV.team_a_dp_leases_10000.>"');
    expect(text).not.toMatch(/@NS|@NOTIFY/);
    expect(serverAccepts(text).ok).toBe(true);
    const off = renderChart('prod', ['--set', 'nats.auth.enabled=false']);
    expect(off.some((o) => o.metadata.name === 'mlpipe-nats-authorization')).toBe(false);
    // Without users, no service is given one.
    const env = JSON.stringify(off.filter((o) => o.kind === 'Deployment' || o.kind === 'ClusterTrainingRuntime'));
    expect(env).not.toContain('NATS_USER');
    expect(env).not.toContain('NATS_PASSWORD');
  });
});
