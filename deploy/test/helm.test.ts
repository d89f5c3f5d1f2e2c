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
      expect(p.spec.ingress!.flatMap((i) => i.ports.map((x) => x.port))).toEqual([PORTS[s]]);
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
