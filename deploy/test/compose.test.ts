import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import draft07 from 'ajv/dist/refs/json-schema-draft-07.json' with { type: 'json' };
import { validate as lintDockerfile } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BaseConfigSchema, DatasetWatcherConfigSchema, GatewayConfigSchema, OrchestratorConfigSchema, RegistryConfigSchema, TrainerConfigSchema, UiConfigSchema, loadConfig } from '@mlpipe/config';
import { repoRoot, schemasDir } from '../validate/src/tools';
import { PORTS, SERVICES } from './fixtures';

interface ComposeService {
  build?: { context: string; dockerfile: string };
  image?: string;
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  profiles?: string[];
  entrypoint?: string[];
}
const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
const schema = JSON.parse(readFileSync(join(schemasDir, 'compose-spec.json'), 'utf8')) as object;
// The schema names its meta-schema by the https address, which Ajv does not preload.
const ajv = new Ajv({ strict: false, allErrors: true }).addMetaSchema({ ...draft07, $id: 'https://json-schema.org/draft-07/schema' });
const validateCompose = ajv.compile(schema);

/** The environment each compose service's process reads (its config schema's keys). */
const CONFIG_KEYS: Record<string, string[]> = {
  'dataset-watcher': Object.keys(DatasetWatcherConfigSchema.shape),
  orchestrator: Object.keys(OrchestratorConfigSchema.shape),
  trainer: Object.keys(TrainerConfigSchema.shape),
  registry: Object.keys(RegistryConfigSchema.shape),
  gateway: Object.keys(GatewayConfigSchema.shape),
  'model-1': Object.keys(GatewayConfigSchema.shape),
  'model-2': Object.keys(GatewayConfigSchema.shape),
  ui: Object.keys(UiConfigSchema.shape),
  data: Object.keys(DatasetWatcherConfigSchema.shape),
  jobs: Object.keys(BaseConfigSchema.shape),
  // mlpipe-dlq reads the NATS settings of the base schema.
  dlq: Object.keys(BaseConfigSchema.shape),
  // The registry CLI is an HTTP client of the registry and reads only this.
  models: ['REGISTRY_URL'],
};

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema', () => {
    expect(validateCompose(compose), JSON.stringify(validateCompose.errors, null, 1)).toBe(true);
  });

  it('the schema check can fail: a misspelt key and a wrong condition are rejected', () => {
    const typo = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
    typo.services.registry!.helthcheck = {};
    expect(validateCompose(typo)).toBe(false);
    const condition = structuredClone(compose);
    condition.services.ui!.depends_on!.registry!.condition = 'service_ready';
    expect(validateCompose(condition)).toBe(false);
  });

  it('serves OIP gRPC on 9080 from the edge and both model replicas, published by the edge only, where the edge looks for it', () => {
    const services = compose.services as Record<string, ComposeService & { ports?: string[] }>;
    for (const name of ['gateway', 'model-1', 'model-2']) expect(services[name]!.environment?.GATEWAY_GRPC_PORT, name).toBe('9080');
    expect(services.gateway!.ports).toEqual(['8080:8080', '9080:9080']);
    expect(services['model-1']!.ports).toBeUndefined();
    // The edge finds each replica's gRPC at the replica's host and its own GATEWAY_GRPC_PORT (no MODEL_REPLICAS_GRPC): the same port.
    expect(services.gateway!.environment?.MODEL_REPLICAS_GRPC).toBeUndefined();
    expect(GatewayConfigSchema.shape.GATEWAY_GRPC_PORT.parse('9080')).toBe(9080);
  });

  it('sets only environment variables the service reads, so a misspelt one cannot hide', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      const known = CONFIG_KEYS[name];
      if (!svc.build) continue;
      expect(known, `no config schema mapped for compose service ${name}`).toBeDefined();
      for (const key of Object.keys(svc.environment ?? {})) expect(known, `${name} sets ${key}`).toContain(key);
    }
  });

  it('gives every long-running service a readiness health check and waits for what it needs', () => {
    for (const s of SERVICES) {
      const svc = compose.services[s]!;
      expect(svc.build?.dockerfile).toBe(`services/${s}/Dockerfile`);
      expect(svc.environment?.HTTP_PORT).toBe(String(PORTS[s]));
      expect(svc.healthcheck?.test.join(' ')).toContain('/readyz');
      expect(Object.keys(svc.depends_on ?? {}).length, s).toBeGreaterThan(0);
    }
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const [dep, { condition }] of Object.entries(svc.depends_on ?? {})) {
        const target = compose.services[dep];
        expect(target, `${name} depends on unknown ${dep}`).toBeDefined();
        if (condition === 'service_healthy') expect(target!.healthcheck ?? target!.build, `${name} waits for ${dep} to be healthy, which has no health check`).toBeDefined();
      }
    }
  });

  it('puts the gateway edge in front of model replicas that run the same image', () => {
    const replicas = compose.services.gateway!.environment!.MODEL_REPLICAS!.split(',');
    expect(replicas.length).toBeGreaterThan(1);
    for (const url of replicas) {
      const name = new URL(url).hostname;
      const replica = compose.services[name]!;
      expect(replica.build?.dockerfile).toBe('services/gateway/Dockerfile');
      expect(replica.environment?.MODEL_REPLICAS).toBeUndefined();
      expect(new URL(url).port).toBe(replica.environment?.HTTP_PORT);
      expect(compose.services.gateway!.depends_on?.[name]?.condition).toBe('service_healthy');
    }
  });

  it('keeps the laptop open to readers but signs UI sessions with a secret from the environment, its default a laptop one', () => {
    /** `${NAME:-default}`: the variable a value reads, and what it is when unset. */
    const fromEnv = (value: string | undefined) => {
      const m = /^\$\{([A-Z_]+):-([^}]*)\}$/.exec(value ?? '');
      return m ? { variable: m[1], fallback: m[2] } : undefined;
    };
    const env = (service: string) => compose.services[service]!.environment ?? {};
    for (const s of ['registry', 'ui']) expect(fromEnv(env(s).AUTH_ANONYMOUS_ROLE), s).toEqual({ variable: 'AUTH_ANONYMOUS_ROLE', fallback: 'viewer' });
    // Edge and replicas check tokens the same way: one variable for all three.
    for (const s of ['gateway', 'model-1', 'model-2']) {
      expect(fromEnv(env(s).GATEWAY_AUTH), s).toEqual({ variable: 'GATEWAY_AUTH', fallback: 'open' });
      expect(fromEnv(env(s).REGISTRY_TOKEN), s).toEqual({ variable: 'REGISTRY_TOKEN', fallback: '' });
    }
    const session = fromEnv(env('ui').UI_SESSION_SECRET);
    expect(session?.variable).toBe('UI_SESSION_SECRET');
    expect(session?.fallback).toMatch(/laptop/);
    const text = readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8');
    expect(text).toMatch(/UI_SESSION_SECRET: the default is for a laptop only,\s*\n#\s*set your own/);
    // With nothing set, every service starts: each one's config, defaults filled in, passes its schema.
    const SCHEMAS = { registry: RegistryConfigSchema, orchestrator: OrchestratorConfigSchema, 'dataset-watcher': DatasetWatcherConfigSchema, trainer: TrainerConfigSchema, gateway: GatewayConfigSchema, 'model-1': GatewayConfigSchema, 'model-2': GatewayConfigSchema, ui: UiConfigSchema };
    for (const [s, schema] of Object.entries(SCHEMAS)) {
      const resolved = Object.fromEntries(Object.entries(env(s)).map(([k, v]) => [k, fromEnv(v)?.fallback ?? v]));
      expect(() => loadConfig(schema, resolved), s).not.toThrow();
    }
    const ui = loadConfig(UiConfigSchema, Object.fromEntries(Object.entries(env('ui')).map(([k, v]) => [k, fromEnv(v)?.fallback ?? v])));
    expect(ui.AUTH_ANONYMOUS_ROLE).toBe('viewer');
    expect(ui.UI_SESSION_SECRET).toBe(session?.fallback);
  });

  it('runs NATS with JetStream on a volume, and MinIO notifies the watcher over NATS', () => {
    const nats = compose.services.nats as ComposeService & { command: string[]; volumes: string[] };
    expect(nats.command).toContain('-js');
    expect(nats.command[nats.command.indexOf('-sd') + 1]).toBe('/data');
    expect(nats.volumes.some((v) => v.endsWith(':/data'))).toBe(true);
    const minio = compose.services.minio!.environment!;
    expect(minio.MINIO_NOTIFY_NATS_ENABLE_PRIMARY).toBe('on');
    expect(minio.MINIO_NOTIFY_NATS_SUBJECT_PRIMARY).toBe(compose.services['dataset-watcher']!.environment!.DATA_NOTIFY_SUBJECT);
    const init = (compose.services['minio-init'] as { command: string[] }).command.join(' ');
    expect(init).toMatch(/mc event add --ignore-existing local\/mlpipe arn:minio:sqs::PRIMARY:nats --event put --prefix incoming\/ --suffix batch\.json/);
  });
});

describe('Dockerfiles', () => {
  it.each(SERVICES)('%s: lints clean, pinned slim base, non-root, health check, its own entry point', (s) => {
    const text = readFileSync(join(repoRoot, `services/${s}/Dockerfile`), 'utf8');
    expect(lintDockerfile(text)).toEqual([]);
    const froms = [...text.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    for (const f of froms) if (f !== 'base') expect(f).toMatch(/^node:20\.\d+\.\d+-bookworm-slim$/);
    expect(froms.length, 'multi-stage').toBeGreaterThan(1);
    const runtime = text.slice(text.lastIndexOf('\nFROM '));
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*\n\s+CMD \[.*\/healthz/m);
    expect(runtime).toContain(`ENV NODE_ENV=production HTTP_PORT=${PORTS[s]}`);
    expect(runtime).toContain(`EXPOSE ${PORTS[s]}`);
    expect(runtime).toContain(`COPY services/${s}/ services/${s}/`);
    expect(runtime).not.toMatch(/^COPY services\/ /m);
    expect(runtime).toContain(`ENTRYPOINT ["node", "--import", "tsx", "services/${s}/src/main.ts"]`);
  });

  it('the Dockerfile lint can fail', () => {
    const broken = readFileSync(join(repoRoot, 'services/gateway/Dockerfile'), 'utf8').replace('HEALTHCHECK --interval', 'HEALTHCHECK --intervall');
    expect(lintDockerfile(broken).map((d) => d.message)).toContain('Unknown flag: intervall');
  });

  it('the build context (.dockerignore) holds the manifests, libraries and services and no local state', () => {
    const lines = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines[0]).toBe('*');
    expect(lines).toEqual(expect.arrayContaining(['!package.json', '!package-lock.json', '!libs/', '!services/', '**/node_modules']));
  });
});
