import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DatasetWatcherConfigSchema, GatewayConfigSchema, OrchestratorConfigSchema, RegistryConfigSchema, TrainerConfigSchema, UiConfigSchema } from '@mlpipe/config';
import { renderTrainingRuntime } from '../kubeflow/src/trainjob';
import { pinModelVersion } from '../scripts/pin-model-version';
import { renderChart, type K8sObject, type Profile } from '../validate/src/manifests';
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
      for (const secret of ['DATABASE_URL', 'S3_ACCESS_KEY', 'S3_SECRET_KEY']) {
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
});
