import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DatasetWatcherConfigSchema, GatewayConfigSchema, OrchestratorConfigSchema, RegistryConfigSchema, TrainerConfigSchema, UiConfigSchema } from '@mlpipe/config';
import { DEFAULT_TRAINER_RESOURCES, renderTrainingRuntime } from '../kubeflow/src/trainjob';
import { pinModelVersion } from '../scripts/pin-model-version';
import { parseManifests, renderChart, type K8sObject, type Profile } from '../validate/src/manifests';
import { chartDir, helm, tool } from '../validate/src/tools';
import { PORTS, SERVICES, validate, type Service } from './fixtures';

interface Container {
  name: string;
  image: string;
  env: { name: string; value?: string; valueFrom?: unknown }[];
  readinessProbe: { httpGet: { path: string; port: string } };
  livenessProbe: { httpGet: { path: string; port: string } };
  ports: { containerPort: number }[];
}
type Deployment = K8sObject & { spec: { replicas?: number; template: { spec: { automountServiceAccountToken: boolean; containers: Container[] } } } };

const CONFIG_KEYS: Record<Service, string[]> = {
  'dataset-watcher': Object.keys(DatasetWatcherConfigSchema.shape),
  orchestrator: Object.keys(OrchestratorConfigSchema.shape),
  trainer: Object.keys(TrainerConfigSchema.shape),
  registry: Object.keys(RegistryConfigSchema.shape),
  gateway: Object.keys(GatewayConfigSchema.shape),
  ui: Object.keys(UiConfigSchema.shape),
};
const deployments = (objects: K8sObject[]) => new Map(objects.filter((o) => o.kind === 'Deployment').map((d) => [d.metadata.name, d as Deployment]));
/** helm template that is expected to fail: its exit status and stderr. */
const helmFails = (args: string[]) => spawnSync(tool('helm'), ['template', 'x', chartDir, ...args], { encoding: 'utf8' });

describe('Helm chart', () => {
  const rendered: Record<Profile, K8sObject[]> = { dev: renderChart('dev'), prod: renderChart('prod') };

  it.each(['dev', 'prod'] as const)('lints strictly with the %s profile', (profile) => {
    const out = helm(['lint', '--strict', chartDir, '-f', join(chartDir, `values-${profile}.yaml`)]);
    expect(out).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it.each(['dev', 'prod'] as const)('renders a %s profile whose every object validates', async (profile) => {
    const objects = rendered[profile];
    expect(await validate(objects)).toEqual([]);
    const kinds = objects.map((o) => o.kind);
    expect(kinds.filter((k) => k === 'Deployment')).toHaveLength(SERVICES.length);
    expect(kinds.filter((k) => k === 'Service')).toHaveLength(SERVICES.length);
    expect(kinds).toContain('Ingress');
    expect(kinds).toContain('ConfigMap');
    if (profile === 'prod') expect(kinds).toEqual(expect.arrayContaining(['HorizontalPodAutoscaler', 'PodDisruptionBudget', 'ServiceMonitor', 'PrometheusRule', 'ClusterTrainingRuntime']));
    else expect(kinds).not.toContain('ServiceMonitor');
  });

  it.each(['dev', 'prod'] as const)('%s: every service probes its health endpoints, reads only its own config keys, credentials by Secret', (profile) => {
    const byName = deployments(rendered[profile]);
    for (const s of SERVICES) {
      const d = byName.get(s)!;
      const c = d.spec.template.spec.containers[0]!;
      expect(c.image).toMatch(new RegExp(`/${s}:[^:]+$`));
      expect(c.ports[0]!.containerPort).toBe(PORTS[s]);
      expect(c.readinessProbe.httpGet.path).toBe('/readyz');
      expect(c.livenessProbe.httpGet.path).toBe('/healthz');
      expect(d.spec.template.spec.automountServiceAccountToken).toBe(false);
      for (const e of c.env) expect(CONFIG_KEYS[s], `${s} sets ${e.name}`).toContain(e.name);
      // Each service logs in to NATS as its own user, the password from the users' Secret under the user's name.
      expect(c.env.find((x) => x.name === 'NATS_USER')?.value, s).toBe(s);
      expect(c.env.find((x) => x.name === 'NATS_PASSWORD')?.valueFrom).toEqual({ secretKeyRef: { name: 'mlpipe-nats-users', key: s } });
      for (const secret of ['DATABASE_URL', 'S3_ACCESS_KEY', 'S3_SECRET_KEY', 'NATS_PASSWORD']) {
        const e = c.env.find((x) => x.name === secret);
        expect(e?.valueFrom, `${s} ${secret}`).toBeDefined();
        expect(e?.value).toBeUndefined();
      }
    }
  });

  it.each(['dev', 'prod'] as const)('%s: the gateway serves OIP gRPC on a port named grpc (GATEWAY_GRPC_PORT, 9080), in its Deployment and its Service; no other service does', (profile) => {
    type Port = { name: string; containerPort?: number; port?: number; targetPort?: string; appProtocol?: string };
    const services = (objects: K8sObject[]) => new Map(objects.filter((o) => o.kind === 'Service').map((o) => [o.metadata.name, o as K8sObject & { spec: { ports: Port[] } }]));
    const grpcOf = (objects: K8sObject[], s: Service) => ({
      container: (deployments(objects).get(s)!.spec.template.spec.containers[0]!.ports as Port[]).find((p) => p.name === 'grpc'),
      service: services(objects).get(s)!.spec.ports.find((p) => p.name === 'grpc'),
      env: deployments(objects).get(s)!.spec.template.spec.containers[0]!.env.find((e) => e.name === 'GATEWAY_GRPC_PORT')?.value,
    });
    expect(grpcOf(rendered[profile], 'gateway')).toEqual({ container: { name: 'grpc', containerPort: 9080 }, service: { name: 'grpc', port: 9080, targetPort: 'grpc', appProtocol: 'grpc' }, env: '9080' });
    for (const s of SERVICES.filter((x) => x !== 'gateway')) expect(grpcOf(rendered[profile], s)).toEqual({ container: undefined, service: undefined, env: undefined });
    // Moved by value, everywhere at once; and turned off, the gateway is told so (its code default would still listen).
    const moved = renderChart(profile, ['--set', 'services.gateway.grpcPort=9191']);
    expect(grpcOf(moved, 'gateway')).toMatchObject({ container: { containerPort: 9191 }, service: { port: 9191 }, env: '9191' });
    const off = renderChart(profile, ['--set', 'services.gateway.grpcPort=null']);
    expect(grpcOf(off, 'gateway')).toEqual({ container: undefined, service: undefined, env: '0' });
    expect(helmFails(['--set', 'services.gateway.grpcPort=70000']).status).not.toBe(0);
  });

  it('scales trainers by value and leaves the gateway replicas to its autoscaler', () => {
    const prod = deployments(rendered.prod);
    expect(prod.get('trainer')!.spec.replicas).toBe(4);
    expect(prod.get('gateway')!.spec.replicas).toBeUndefined();
    const hpa = rendered.prod.find((o) => o.kind === 'HorizontalPodAutoscaler') as K8sObject & { spec: { scaleTargetRef: { name: string }; maxReplicas: number } };
    expect(hpa.spec.scaleTargetRef.name).toBe('gateway');
    expect(deployments(renderChart('prod', ['--set', 'services.trainer.replicas=7'])).get('trainer')!.spec.replicas).toBe(7);
    expect(deployments(rendered.dev).get('gateway')!.spec.replicas).toBe(1);
  });

  it('rejects broken values through values.schema.json', () => {
    const word = helmFails(['--set', 'services.trainer.replicas=three']);
    expect(word.status).not.toBe(0);
    expect(word.stderr).toMatch(/replicas/);
    const typo = helmFails(['--set', 'ingres.enabled=true']);
    expect(typo.status).not.toBe(0);
    expect(typo.stderr).toMatch(/ingres/);
    const env = helmFails(['--set', 'services.gateway.env.lower=x']);
    expect(env.status).not.toBe(0);
    const version = helmFails(['--set', 'serving.modelVersion=0']);
    expect(version.status).not.toBe(0);
  });

  it('serves a pinned model version only when one is pinned, and the CT pin produces exactly that', () => {
    const gatewayEnv = (objects: K8sObject[]) => deployments(objects).get('gateway')!.spec.template.spec.containers[0]!.env;
    expect(gatewayEnv(rendered.prod).find((e) => e.name === 'MODEL_VERSION')).toBeUndefined();
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-pin-'));
    const file = join(dir, 'values-prod.yaml');
    const original = readFileSync(join(chartDir, 'values-prod.yaml'), 'utf8');
    writeFileSync(file, pinModelVersion(original, 12)!);
    expect(pinModelVersion(readFileSync(file, 'utf8'), 12)).toBeUndefined();
    const pinned = renderChart('prod', ['-f', file]);
    expect(gatewayEnv(pinned).find((e) => e.name === 'MODEL_VERSION')?.value).toBe('12');
    for (const s of SERVICES.filter((x) => x !== 'gateway')) {
      expect(deployments(pinned).get(s)!.spec.template.spec.containers[0]!.env.some((e) => e.name === 'MODEL_VERSION')).toBe(false);
    }
  });

  it('ships the same training runtime as the Kubeflow CLI renders', () => {
    const fromChart = rendered.prod.find((o) => o.kind === 'ClusterTrainingRuntime')!;
    const fromCli = renderTrainingRuntime({
      name: 'mlpipe-trainer',
      image: 'ghcr.io/mlpipe/trainer:0.1.0',
      natsUrl: 'nats://nats:4222',
      busNamespace: 'mlpipe',
      s3Endpoint: 'http://minio:9000',
      s3Bucket: 'mlpipe',
      objectStoreSecret: 'mlpipe-object-store',
      logLevel: 'info',
      natsSecret: 'mlpipe-nats-users',
      resources: DEFAULT_TRAINER_RESOURCES,
    });
    expect(fromChart.metadata.name).toBe(fromCli.metadata.name);
    expect(fromChart.spec).toEqual(fromCli.spec);
  });

  it('puts the Grafana dashboards (the files compose provisions) into a ConfigMap', () => {
    const cm = rendered.dev.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'mlpipe-dashboards') as K8sObject & { data: Record<string, string>; metadata: { labels: Record<string, string> } };
    expect(cm.metadata.labels.grafana_dashboard).toBe('1');
    const files = Object.keys(cm.data);
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      expect(cm.data[f]).toBe(readFileSync(join(chartDir, '../../grafana/dashboards', f), 'utf8').replace(/\n$/, ''));
      expect(() => JSON.parse(cm.data[f]!) as unknown).not.toThrow();
    }
  });

  it('limits the trainer runtime\'s pods and gives them the trainer\'s NATS user', () => {
    type Runtime = K8sObject & { spec: { template: { spec: { replicatedJobs: { template: { spec: { template: { spec: { containers: (Container & { resources: { requests: Record<string, string>; limits: Record<string, string> } })[] } } } } }[] } } } };
    const runtime = rendered.prod.find((o) => o.kind === 'ClusterTrainingRuntime') as Runtime;
    const c = runtime.spec.template.spec.replicatedJobs[0]!.template.spec.template.spec.containers[0]!;
    expect(c.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(c.resources.limits.memory).toBeDefined();
    expect(c.env.find((e) => e.name === 'NATS_USER')?.value).toBe('trainer');
    expect(c.env.find((e) => e.name === 'NATS_PASSWORD')?.valueFrom).toEqual({ secretKeyRef: { name: 'mlpipe-nats-users', key: 'trainer' } });
    // Every Deployment has requests and a memory limit too.
    for (const d of deployments(rendered.prod).values()) {
      const r = (d.spec.template.spec.containers[0] as Container & { resources?: { requests?: object; limits?: { memory?: string } } }).resources;
      expect(r?.requests, d.metadata.name).toBeDefined();
      expect(r?.limits?.memory, d.metadata.name).toBeDefined();
    }
  });

  it('serves the Ingress over TLS by default, and refuses TLS without a certificate Secret', () => {
    type Ingress = K8sObject & { spec: { tls?: { hosts: string[]; secretName: string }[]; rules: { host: string }[] } };
    const byDefault = parseManifests(helm(['template', 'mlpipe', chartDir])).find((o) => o.kind === 'Ingress') as Ingress;
    expect(byDefault.spec.tls).toEqual([{ hosts: [byDefault.spec.rules[0]!.host], secretName: 'mlpipe-tls' }]);
    expect((rendered.prod.find((o) => o.kind === 'Ingress') as Ingress).spec.tls?.[0]?.secretName).toBe('mlpipe-tls');
    expect((rendered.dev.find((o) => o.kind === 'Ingress') as Ingress).spec.tls).toBeUndefined();
    const noSecret = helmFails(['--set', 'ingress.tls.secretName=']);
    expect(noSecret.status).not.toBe(0);
    expect(noSecret.stderr).toMatch(/secretName/);
  });

  it('isolates the pods: only the Ingress controller reaches the gateway and the UI, each service reaches only what it needs', () => {
    type Peer = { namespaceSelector?: { matchLabels?: Record<string, string> }; podSelector?: { matchLabels?: Record<string, string> } };
    type Policy = K8sObject & { spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress?: { from: Peer[]; ports: { port: number }[] }[]; egress?: { to: Peer[]; ports: { port: number }[] }[] } };
    const policies = rendered.prod.filter((o): o is Policy => o.kind === 'NetworkPolicy');
    const deny = policies.find((p) => p.metadata.name === 'mlpipe-default-deny')!;
    expect(deny.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(deny.spec.ingress).toBeUndefined();
    expect(deny.spec.egress).toBeUndefined();
    const ingressController = (p: Peer) => p.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'ingress-nginx';
    /** The release's own pods allowed in (peers without a namespace selector). */
    const fromPods = (p: Policy) => p.spec.ingress!.flatMap((i) => i.from).filter((f) => !f.namespaceSelector).map((f) => f.podSelector?.matchLabels?.['app.kubernetes.io/name']);
    const egressPorts = (p: Policy) => p.spec.egress!.flatMap((e) => e.ports.map((x) => x.port)).sort((a, b) => a - b);
    const NEEDS: Record<Service, number[]> = {
      'dataset-watcher': [53, 53, 4222, 4318, 5432, 9000],
      orchestrator: [53, 53, 4222, 4318, 5432],
      trainer: [53, 53, 4222, 4318, 9000],
      registry: [53, 53, 4222, 4318, 5432, 9000],
      gateway: [53, 53, 4222, 4318, 8081, 9000],
      ui: [53, 53, 4222, 4318, 8080, 8081, 9000],
    };
    for (const s of SERVICES) {
      const p = policies.find((x) => x.metadata.name === s)!;
      expect(p.spec.podSelector.matchLabels['app.kubernetes.io/name']).toBe(s);
      const fromIngress = p.spec.ingress!.some((i) => i.from.some(ingressController));
      expect(fromIngress, `${s} reachable from the Ingress controller`).toBe(s === 'gateway' || s === 'ui');
      // The gateway's OIP gRPC port beside its HTTP one, to the same peers.
      expect(p.spec.ingress!.flatMap((i) => i.ports.map((x) => x.port))).toEqual(s === 'gateway' ? [PORTS[s], 9080] : [PORTS[s]]);
      expect(egressPorts(p), s).toEqual(NEEDS[s]);
    }
    expect(fromPods(policies.find((x) => x.metadata.name === 'registry')!).sort()).toEqual(['gateway', 'ui']);
    expect(fromPods(policies.find((x) => x.metadata.name === 'gateway')!)).toEqual(['ui']);
    expect(fromPods(policies.find((x) => x.metadata.name === 'orchestrator')!)).toEqual([]);
    // Without telemetry no one reaches the collector.
    expect(egressPorts(renderChart('dev').find((o): o is Policy => o.kind === 'NetworkPolicy' && o.metadata.name === 'trainer')!)).toEqual([53, 53, 4222, 9000]);
    expect(renderChart('prod', ['--set', 'networkPolicy.enabled=false']).some((o) => o.kind === 'NetworkPolicy')).toBe(false);
  });
});

type EnvVar = Container['env'][number];
type Job = K8sObject & { spec: { template: { spec: { serviceAccountName: string; automountServiceAccountToken: boolean; containers: (Container & { command: string[] })[]; volumes: { name: string; configMap?: { name: string } }[] } } } };
type Role = K8sObject & { rules: { apiGroups: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] }[] };
type Binding = K8sObject & { roleRef: { kind: string; name: string }; subjects: { kind: string; name: string }[] };
type Secret = K8sObject & { data?: Record<string, string>; metadata: { annotations?: Record<string, string> } };

const SCHEMAS: Record<Service, { shape: Record<string, { parse(v: unknown): unknown }> }> = {
  'dataset-watcher': DatasetWatcherConfigSchema,
  orchestrator: OrchestratorConfigSchema,
  trainer: TrainerConfigSchema,
  registry: RegistryConfigSchema,
  gateway: GatewayConfigSchema,
  ui: UiConfigSchema,
};
const STREAM_KEYS = ['DATA', 'TRAIN', 'MODEL', 'DLQ'].flatMap((s) => [`STREAM_${s}_MAX_AGE_MS`, `STREAM_${s}_MAX_BYTES`]);
/** What each service gets from the chart's auth, streams, predictions, quotas, rateLimits and inputLimits blocks. */
const SETTINGS: Record<Service, string[]> = {
  'dataset-watcher': ['DATA_MAX_BATCH_BYTES', 'DATA_MAX_BATCH_SAMPLES', 'DATA_MAX_CSV_ROWS'],
  orchestrator: ['QUOTA_MAX_EPOCHS', 'QUOTA_MAX_REPLICAS', 'QUOTA_MAX_BATCH_SIZE', 'QUOTA_MAX_TRAIN_SUBSET', 'QUOTA_MAX_SWEEP_TRIALS', 'QUOTA_MAX_ACTIVE_JOBS'],
  trainer: [],
  registry: ['AUTH_ANONYMOUS_ROLE'],
  gateway: ['GATEWAY_AUTH', 'PREDICTION_SAMPLE_SHARE', 'PREDICTION_RETENTION_MS', 'PREDICTION_RETENTION_SWEEP_MS', 'GATEWAY_MAX_IMAGE_BYTES', 'GATEWAY_MAX_IMAGE_PIXELS', 'GATEWAY_MAX_DECODE_MB'],
  ui: ['AUTH_ANONYMOUS_ROLE', 'UI_COOKIE_SECURE', 'UI_FEEDBACK_RATE_MAX', 'UI_JOBS_RATE_MAX', 'UI_RATE_WINDOW_MS', 'UI_SSE_MAX_CONNECTIONS'],
};
/** Where the chart's default is deliberately not the laptop's: a cluster asks for tokens, and serves the UI over TLS. */
const CLUSTER_DEFAULTS: Record<string, string> = { AUTH_ANONYMOUS_ROLE: 'none', GATEWAY_AUTH: 'token', UI_COOKIE_SECURE: 'true' };

const byDefault = (extra: string[] = []) => parseManifests(helm(['template', 'mlpipe', chartDir, ...extra]));
const envOf = (objects: K8sObject[], s: Service): EnvVar[] => deployments(objects).get(s)!.spec.template.spec.containers[0]!.env;
const valueOf = (objects: K8sObject[], s: Service, key: string) => envOf(objects, s).find((e) => e.name === key)?.value;
const refOf = (objects: K8sObject[], s: Service, key: string) => envOf(objects, s).find((e) => e.name === key)?.valueFrom;
const find = <T extends K8sObject>(objects: K8sObject[], kind: string, name?: string) => objects.filter((o): o is T => o.kind === kind && (name === undefined || o.metadata.name === name));

describe('Helm chart: who may do what, and the limits', () => {
  const defaults = byDefault();

  it('renders valid objects with the default values and with TLS off', async () => {
    expect(await validate(defaults)).toEqual([]);
    expect(await validate(byDefault(['--set', 'ingress.tls.enabled=false']))).toEqual([]);
  });

  it('is secure by default: registry and UI need a token, inference asks for one, the gateway reads the registry with its own token', () => {
    for (const objects of [defaults, renderChart('prod'), renderChart('dev')]) {
      expect(valueOf(objects, 'registry', 'AUTH_ANONYMOUS_ROLE')).toBe('none');
      expect(valueOf(objects, 'ui', 'AUTH_ANONYMOUS_ROLE')).toBe('none');
      expect(valueOf(objects, 'gateway', 'GATEWAY_AUTH')).toBe('token');
      expect(refOf(objects, 'gateway', 'REGISTRY_TOKEN')).toEqual({ secretKeyRef: { name: 'mlpipe-gateway-registry-token', key: 'token' } });
      expect(refOf(objects, 'ui', 'UI_SESSION_SECRET')).toEqual({ secretKeyRef: { name: 'mlpipe-ui-session', key: 'UI_SESSION_SECRET' } });
      for (const s of SERVICES) if (s !== 'gateway') expect(envOf(objects, s).some((e) => e.name === 'REGISTRY_TOKEN'), s).toBe(false);
    }
    const open = byDefault(['--set', 'auth.anonymousRole=viewer', '--set', 'auth.gateway.auth=open']);
    expect(valueOf(open, 'registry', 'AUTH_ANONYMOUS_ROLE')).toBe('viewer');
    expect(valueOf(open, 'ui', 'AUTH_ANONYMOUS_ROLE')).toBe('viewer');
    expect(valueOf(open, 'gateway', 'GATEWAY_AUTH')).toBe('open');
    expect(helmFails(['--set', 'auth.anonymousRole=admin']).status).not.toBe(0);
    expect(helmFails(['--set', 'auth.gateway.auth=maybe']).status).not.toBe(0);
  });

  it('makes the UI session secret once (random, 32+ characters, kept on uninstall), or takes the operator\'s', () => {
    const secret = find<Secret>(defaults, 'Secret', 'mlpipe-ui-session')[0]!;
    const value = Buffer.from(secret.data!.UI_SESSION_SECRET!, 'base64').toString();
    expect(value.length).toBeGreaterThanOrEqual(32);
    expect(() => UiConfigSchema.shape.UI_SESSION_SECRET.parse(value)).not.toThrow();
    // Two renders without a cluster draw two values: the value comes from randomness, not the chart.
    expect(find<Secret>(byDefault(), 'Secret', 'mlpipe-ui-session')[0]!.data!.UI_SESSION_SECRET).not.toBe(secret.data!.UI_SESSION_SECRET);
    expect(secret.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
    // The upgrade path: the template reads the live Secret back (Helm's lookup) before it draws a new one.
    expect(readFileSync(join(chartDir, 'templates/secrets.yaml'), 'utf8')).toMatch(/lookup "v1" "Secret" \.Release\.Namespace \$name/);
    const own = byDefault(['--set', 'auth.ui.sessionSecretName=my-ui-session']);
    expect(refOf(own, 'ui', 'UI_SESSION_SECRET')).toEqual({ secretKeyRef: { name: 'my-ui-session', key: 'UI_SESSION_SECRET' } });
    expect(find(own, 'Secret', 'mlpipe-ui-session')).toEqual([]);
  });

  it('marks the session cookie Secure exactly when the Ingress serves TLS, unless told otherwise', () => {
    expect(valueOf(defaults, 'ui', 'UI_COOKIE_SECURE')).toBe('true');
    expect(valueOf(renderChart('prod'), 'ui', 'UI_COOKIE_SECURE')).toBe('true');
    expect(valueOf(renderChart('dev'), 'ui', 'UI_COOKIE_SECURE')).toBe('false');
    expect(valueOf(byDefault(['--set', 'ingress.tls.enabled=false']), 'ui', 'UI_COOKIE_SECURE')).toBe('false');
    expect(valueOf(byDefault(['--set', 'ingress.enabled=false']), 'ui', 'UI_COOKIE_SECURE')).toBe('false');
    // TLS ending in front of the Ingress.
    expect(valueOf(renderChart('dev', ['--set', 'auth.ui.cookieSecure=true']), 'ui', 'UI_COOKIE_SECURE')).toBe('true');
  });

  it('passes OIDC settings to the registry only when they are set, all three or none', () => {
    for (const s of SERVICES) expect(envOf(defaults, s).some((e) => e.name.startsWith('OIDC_')), s).toBe(false);
    const oidc = byDefault(['--set', 'auth.oidc.jwksUrl=https://idp.example.org/jwks', '--set', 'auth.oidc.issuer=https://idp.example.org', '--set', 'auth.oidc.audience=mlpipe', '--set', 'auth.oidc.roleClaim=groups']);
    expect(Object.fromEntries(envOf(oidc, 'registry').filter((e) => e.name.startsWith('OIDC_')).map((e) => [e.name, e.value]))).toEqual({
      OIDC_JWKS_URL: 'https://idp.example.org/jwks',
      OIDC_ISSUER: 'https://idp.example.org',
      OIDC_AUDIENCE: 'mlpipe',
      OIDC_ROLE_CLAIM: 'groups',
      OIDC_NAME_CLAIM: 'preferred_username',
    });
    for (const s of SERVICES) if (s !== 'registry') expect(envOf(oidc, s).some((e) => e.name.startsWith('OIDC_')), s).toBe(false);
    const partial = helmFails(['--set', 'auth.oidc.jwksUrl=https://idp.example.org/jwks']);
    expect(partial.status).not.toBe(0);
    expect(partial.stderr).toMatch(/auth\.oidc\.issuer is required/);
  });

  it('renders the stream, retention, quota, rate and input limits with the code\'s defaults, each to the services that read it', () => {
    for (const s of SERVICES) {
      const env = envOf(defaults, s);
      const fromBlocks = [...STREAM_KEYS, ...SETTINGS[s]];
      for (const key of fromBlocks) {
        const e = env.find((x) => x.name === key);
        expect(e?.value, `${s} ${key}`).toBeDefined();
        expect(env.filter((x) => x.name === key), `${s} sets ${key} once`).toHaveLength(1);
        const expected = CLUSTER_DEFAULTS[key] ?? String(SCHEMAS[s].shape[key]!.parse(undefined));
        expect(e!.value, `${s} ${key}`).toBe(expected);
      }
      // And nothing from another service's block (quotas on the gateway, say).
      const others = Object.values(SETTINGS).flat().filter((k) => !fromBlocks.includes(k));
      for (const key of others) expect(env.some((x) => x.name === key), `${s} gets ${key}`).toBe(false);
    }
  });

  it('lets operators change each block, in whole numbers however large', () => {
    // A values file, as an operator would write it (--set turns 0.25 into a string, which the schema refuses).
    const file = join(mkdtempSync(join(tmpdir(), 'mlpipe-limits-')), 'limits.yaml');
    writeFileSync(file, [
      'streams: { data: { maxAgeMs: 31536000000, maxBytes: 268435456 }, dlq: { maxAgeMs: 2592000000, maxBytes: 0 } }',
      'predictions: { sampleShare: 0.25, retentionMs: 0 }',
      'quotas: { maxEpochs: 5, maxActiveJobs: 3 }',
      'rateLimits: { jobsPerWindow: 2 }',
      'inputLimits: { gateway: { maxImagePixels: 1000000 }, data: { maxCsvRows: 5000 } }',
    ].join('\n'));
    const changed = byDefault(['-f', file]);
    for (const s of SERVICES) {
      expect(valueOf(changed, s, 'STREAM_DATA_MAX_AGE_MS'), s).toBe('31536000000');
      expect(valueOf(changed, s, 'STREAM_DLQ_MAX_BYTES'), s).toBe('0');
    }
    expect(valueOf(changed, 'gateway', 'PREDICTION_SAMPLE_SHARE')).toBe('0.25');
    expect(valueOf(changed, 'gateway', 'PREDICTION_RETENTION_MS')).toBe('0');
    expect(valueOf(changed, 'gateway', 'GATEWAY_MAX_IMAGE_PIXELS')).toBe('1000000');
    expect(valueOf(changed, 'orchestrator', 'QUOTA_MAX_EPOCHS')).toBe('5');
    expect(valueOf(changed, 'orchestrator', 'QUOTA_MAX_ACTIVE_JOBS')).toBe('3');
    expect(valueOf(changed, 'ui', 'UI_JOBS_RATE_MAX')).toBe('2');
    expect(valueOf(changed, 'dataset-watcher', 'DATA_MAX_CSV_ROWS')).toBe('5000');
    // The values file's large defaults (YAML floats to Helm) come out without an exponent.
    expect(valueOf(defaults, 'trainer', 'STREAM_MODEL_MAX_AGE_MS')).toBe('7776000000');
    for (const bad of ['predictions.sampleShare=2', 'quotas.maxReplicas=65', 'streams.data.maxBytes=-1', 'quotas.maxEpochs=many']) {
      expect(helmFails(['--set', bad]).status, bad).not.toBe(0);
    }
  });

  it('bootstraps the first admin token and the gateway\'s with a Job that may read and patch only those two Secrets', () => {
    const jobs = find<Job>(defaults, 'Job');
    expect(jobs).toHaveLength(1);
    const pod = jobs[0]!.spec.template.spec;
    const c = pod.containers[0]!;
    expect(c.image).toBe('ghcr.io/mlpipe/registry:0.1.0');
    expect(c.command).toEqual(['node', '/bootstrap/bootstrap-tokens.mjs']);
    expect(JSON.parse(c.env.find((e) => e.name === 'MLPIPE_BOOTSTRAP_TOKENS')!.value!)).toEqual([
      { secret: 'mlpipe-admin-token', name: 'admin', role: 'admin' },
      { secret: 'mlpipe-gateway-registry-token', name: 'gateway', role: 'viewer' },
    ]);
    expect(c.env.find((e) => e.name === 'DATABASE_URL')?.valueFrom).toEqual({ secretKeyRef: { name: 'mlpipe-database', key: 'DATABASE_URL' } });
    // It runs the chart's script, from its ConfigMap.
    const script = pod.volumes.find((v) => v.configMap)!.configMap!.name;
    const cm = find<K8sObject & { data: Record<string, string> }>(defaults, 'ConfigMap', script)[0]!;
    expect(cm.data['bootstrap-tokens.mjs']).toBe(readFileSync(join(chartDir, 'files/bootstrap-tokens.mjs'), 'utf8'));
    // Its rights: one Role, one rule, the two Secrets by name, get and patch (no create, list, watch or delete).
    expect(pod.automountServiceAccountToken).toBe(true);
    const sa = find(defaults, 'ServiceAccount');
    expect(sa.map((o) => o.metadata.name)).toEqual([pod.serviceAccountName]);
    const roles = find<Role>(defaults, 'Role');
    expect(roles).toHaveLength(1);
    expect(roles[0]!.rules).toEqual([{ apiGroups: [''], resources: ['secrets'], resourceNames: ['mlpipe-admin-token', 'mlpipe-gateway-registry-token'], verbs: ['get', 'patch'] }]);
    const bindings = find<Binding>(defaults, 'RoleBinding');
    expect(bindings).toHaveLength(1);
    expect(bindings[0]!.roleRef).toMatchObject({ kind: 'Role', name: roles[0]!.metadata.name });
    expect(bindings[0]!.subjects).toEqual([{ kind: 'ServiceAccount', name: pod.serviceAccountName, namespace: expect.any(String) }]);
    expect(defaults.some((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding')).toBe(false);
    // The chart makes the Secrets the Job fills, with no data of its own, so an upgrade keeps the tokens.
    for (const name of ['mlpipe-admin-token', 'mlpipe-gateway-registry-token']) {
      const s = find<Secret>(defaults, 'Secret', name)[0];
      expect(s, name).toBeDefined();
      expect(s!.data, name).toBeUndefined();
      expect(s!.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
    }
  });

  it('renames the bootstrap Job only when what it runs changes, and leaves out what the operator brings', () => {
    const jobName = (objects: K8sObject[]) => find(objects, 'Job')[0]?.metadata.name;
    expect(jobName(byDefault())).toBe(jobName(defaults));
    expect(jobName(byDefault(['--set', 'image.tag=0.2.0']))).not.toBe(jobName(defaults));
    const own = byDefault(['--set', 'auth.gateway.registryTokenSecret=gateway-token']);
    expect(refOf(own, 'gateway', 'REGISTRY_TOKEN')).toEqual({ secretKeyRef: { name: 'gateway-token', key: 'token' } });
    expect(find<Role>(own, 'Role')[0]!.rules[0]!.resourceNames).toEqual(['mlpipe-admin-token']);
    expect(find(own, 'Secret', 'mlpipe-gateway-registry-token')).toEqual([]);
    const none = byDefault(['--set', 'auth.bootstrap.enabled=false', '--set', 'auth.gateway.registryTokenSecret=gateway-token']);
    for (const kind of ['Job', 'Role', 'RoleBinding', 'ServiceAccount']) expect(find(none, kind), kind).toEqual([]);
    expect(find(none, 'Secret', 'mlpipe-admin-token')).toEqual([]);
    // Without the Job and without a token of its own the gateway could not read a registry that wants one.
    const stuck = helmFails(['--set', 'auth.bootstrap.enabled=false']);
    expect(stuck.status).not.toBe(0);
    expect(stuck.stderr).toMatch(/auth\.gateway\.registryTokenSecret is required/);
    const laptopLike = byDefault(['--set', 'auth.bootstrap.enabled=false', '--set', 'auth.anonymousRole=viewer']);
    expect(refOf(laptopLike, 'gateway', 'REGISTRY_TOKEN')).toBeUndefined();
  });

  it('lets nothing reach the bootstrap Job, which reaches only DNS, PostgreSQL and the API server', () => {
    type Policy = K8sObject & { spec: { podSelector: { matchLabels: Record<string, string> }; ingress?: unknown[]; egress: { ports: { port: number }[] }[] } };
    const policy = find<Policy>(defaults, 'NetworkPolicy', 'bootstrap-tokens')[0]!;
    const jobLabels = (find<Job>(defaults, 'Job')[0]!.spec.template as unknown as { metadata: { labels: Record<string, string> } }).metadata.labels;
    for (const [k, v] of Object.entries(policy.spec.podSelector.matchLabels)) expect(jobLabels[k]).toBe(v);
    expect(policy.spec.ingress).toEqual([]);
    expect(policy.spec.egress.flatMap((e) => e.ports.map((p) => p.port)).sort((a, b) => a - b)).toEqual([53, 53, 443, 5432, 6443]);
  });
});
