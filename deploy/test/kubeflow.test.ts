import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { compilePipeline, pipelineYaml, STEP_NAMES, type PipelineOptions } from '../kubeflow/src/pipeline';
import { validatePipeline } from '../kubeflow/src/pipelineSpec';
import { renderTrainJob, renderTrainingRuntime, trainJobName } from '../kubeflow/src/trainjob';
import type { K8sObject } from '../validate/src/manifests';
import { repoRoot, tool } from '../validate/src/tools';
import { validate } from './fixtures';

const cli = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'deploy/kubeflow/src/cli.ts'), ...args], { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, ...env } });

const DEFAULTS: PipelineOptions = {
  registry: 'ghcr.io/mlpipe',
  tag: '0.1.0',
  natsUrl: 'nats://nats:4222',
  busNamespace: 'mlpipe',
  s3Endpoint: 'http://minio:9000',
  s3Bucket: 'mlpipe',
  registryUrl: 'http://registry:8081',
  objectStoreSecret: 'mlpipe-object-store',
  natsSecret: 'mlpipe-nats-users',
  registryTokenSecret: 'mlpipe-gateway-registry-token',
};

describe('Kubeflow Trainer: TrainJob and ClusterTrainingRuntime', () => {
  it('the CLI prints a TrainJob with --dry-run that validates against the TrainJob CRD', async () => {
    const r = cli(['render-trainjob', '--job-id', 'job-20261122-abcd1234', '--replicas', '1', '--image', 'ghcr.io/mlpipe/trainer:0.2.0', '--dry-run']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const job = parse(r.stdout) as K8sObject & { spec: { trainer: { numNodes: number; image: string; args: string[] }; runtimeRef: { name: string } } };
    expect(await validate([job])).toEqual([]);
    expect(job.spec.trainer).toMatchObject({ numNodes: 1, image: 'ghcr.io/mlpipe/trainer:0.2.0', args: ['--job-id', 'job-20261122-abcd1234', '--rank', '0'] });
    expect(job.spec.runtimeRef.name).toBe('mlpipe-trainer');
    expect(existsSync(join(repoRoot, (job.spec.trainer as unknown as { command: string[] }).command[3]!))).toBe(true);
  });

  it('without --dry-run and without a cluster, nothing is applied and one clear line says why', () => {
    tool('kubectl');
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-kube-'));
    writeFileSync(join(dir, 'config'), 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');
    const r = cli(['render-trainjob', '--job-id', 'job-1'], { KUBECONFIG: join(dir, 'config') });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual(['mlpipe-kubeflow: no Kubernetes cluster is configured (kubectl has no current context): set KUBECONFIG or a context, or use --dry-run to print the manifest']);
  });

  it('gives each node of a multi-replica job its rank, and refuses replica counts it cannot honour', () => {
    const two = renderTrainJob({ jobId: 'job-1', replicas: 2 });
    expect(two.spec.trainer).toMatchObject({ numNodes: 2, args: ['--job-id', 'job-1', '--rank', '$(JOB_COMPLETION_INDEX)'] });
    expect(renderTrainJob({ jobId: 'job-1', replicas: 1 }).spec.trainer.args).toEqual(['--job-id', 'job-1', '--rank', '0']);
    const r = cli(['render-trainjob', '--job-id', 'job-1', '--replicas', '65', '--dry-run']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/from 1 to 64/);
    expect(cli(['render-trainjob', '--job-id', 'job-1', '--replicas', 'two', '--dry-run']).stderr).toMatch(/whole number/);
    expect(cli(['render-trainjob', '--dry-run']).stderr).toMatch(/needs --job-id/);
  });

  it('the runtime validates against the ClusterTrainingRuntime CRD, with the NATS address in its environment', async () => {
    const r = cli(['render-runtime', '--image', 'ghcr.io/mlpipe/trainer:0.1.0', '--nats-url', 'nats://nats.messaging:4222']);
    expect(r.status).toBe(0);
    const runtime = parse(r.stdout) as K8sObject;
    expect(await validate([runtime])).toEqual([]);
    expect(r.stdout).toContain('nats://nats.messaging:4222');
    // A TrainJob's replicas spread over nodes (then zones), counted per JobSet: not all on one node.
    const pod = (runtime as unknown as { spec: { template: { spec: { replicatedJobs: { template: { spec: { template: { spec: { topologySpreadConstraints: { topologyKey: string; matchLabelKeys: string[] }[] } } } } }[] } } } }).spec.template.spec.replicatedJobs[0]!.template.spec.template.spec;
    expect(pod.topologySpreadConstraints.map((c) => c.topologyKey)).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    expect(pod.topologySpreadConstraints.every((c) => c.matchLabelKeys.includes('jobset.sigs.k8s.io/jobset-name'))).toBe(true);
    const bad = renderTrainingRuntime({ name: 'x', image: 'i', natsUrl: 'n', busNamespace: 'b', s3Endpoint: 'e', s3Bucket: 'b', objectStoreSecret: 's', logLevel: 'info' }) as unknown as { spec: { mlPolicy: Record<string, unknown> } };
    bad.spec.mlPolicy.numNodez = 1;
    expect((await validate([bad as unknown as K8sObject])).join()).toMatch(/numNodez/);
  });

  it('names TrainJobs within the CEL rule the schema cannot check (≤ 63, lower-case, starts with a letter)', () => {
    const rule = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
    for (const id of ['job-20261122-ABCD1234', 'x'.repeat(100), 'Job_With.Odd/Chars', '9-starts-with-digit']) {
      const name = trainJobName(id);
      expect(name).toMatch(rule);
      expect(name.length).toBeLessThanOrEqual(63);
    }
    expect(renderTrainJob({ jobId: 'a/b', replicas: 1 }).metadata.labels).not.toHaveProperty('mlpipe.io/job-id');
  });

  it('the committed example TrainJob is what the CLI renders', async () => {
    const committed = parse(readFileSync(join(repoRoot, 'deploy/kubeflow/generated/trainjob-example.yaml'), 'utf8')) as K8sObject;
    expect(committed).toEqual(renderTrainJob({ jobId: 'job-20261122-abcd1234', replicas: 2, image: 'ghcr.io/mlpipe/trainer:0.1.0' }));
    expect(await validate([committed])).toEqual([]);
  });
});

describe('Kubeflow Pipelines', () => {
  const compiled = compilePipeline(DEFAULTS);
  const { pipelineSpec, platformSpec } = compiled;

  it('compiles a valid pipeline whose steps run our CLIs in order, in each service image', () => {
    expect(validatePipeline(pipelineSpec, platformSpec)).toEqual([]);
    expect(STEP_NAMES).toEqual(['seed-data', 'validate-data', 'train', 'evaluate', 'gate-decision']);
    const tasks = pipelineSpec.root.dag.tasks;
    STEP_NAMES.slice(1).forEach((name, i) => expect(tasks[name]?.dependentTasks).toEqual([STEP_NAMES[i]]));
    expect(pipelineSpec.deploymentSpec.executors['exec-seed-data']?.container.image).toBe('ghcr.io/mlpipe/dataset-watcher:0.1.0');
    expect(pipelineSpec.deploymentSpec.executors['exec-train']?.container.args).toContain('--wait');
    for (const exec of Object.values(pipelineSpec.deploymentSpec.executors)) {
      const script = exec.container.command[3]!;
      expect(existsSync(join(repoRoot, script)), script).toBe(true);
      expect(exec.container.image).toMatch(new RegExp(`/${script.split('/')[1]}:0\\.1\\.0$`));
    }
  });

  it('gives each step the configuration its CLI reads, with credentials from a Secret', () => {
    const env = (step: string) => Object.fromEntries(pipelineSpec.deploymentSpec.executors[`exec-${step}`]!.container.env.map((e) => [e.name, e.value]));
    expect(env('train')).toEqual({ NATS_URL: 'nats://nats:4222', BUS_NAMESPACE: 'mlpipe', NATS_USER: 'jobs-cli' });
    expect(env('seed-data')).toMatchObject({ STORE_KIND: 's3', S3_ENDPOINT: 'http://minio:9000' });
    expect(env('evaluate')).toEqual({ REGISTRY_URL: 'http://registry:8081' });
    const secrets = platformSpec.platforms.kubernetes.deploymentSpec.executors;
    expect(Object.keys(secrets).sort()).toEqual(['exec-evaluate', 'exec-gate-decision', 'exec-seed-data', 'exec-train', 'exec-validate-data']);
    expect(secrets['exec-seed-data']?.secretAsEnv[0]?.keyToEnv.map((k) => k.envVar)).toEqual(['S3_ACCESS_KEY', 'S3_SECRET_KEY']);
    // The train step submits as the jobs-cli NATS user, its password from the users' Secret.
    expect(secrets['exec-train']?.secretAsEnv).toEqual([{ secretName: 'mlpipe-nats-users', keyToEnv: [{ secretKey: 'jobs-cli', envVar: 'NATS_PASSWORD' }] }]);
    // The registry steps read with the chart's viewer token: its registry refuses anonymous reads.
    for (const step of ['exec-evaluate', 'exec-gate-decision']) {
      expect(secrets[step]?.secretAsEnv).toEqual([{ secretName: 'mlpipe-gateway-registry-token', keyToEnv: [{ secretKey: 'token', envVar: 'MLPIPE_TOKEN' }] }]);
    }
  });

  it('rejects broken pipelines with the reason', () => {
    const noExecutor = structuredClone(pipelineSpec) as { deploymentSpec: { executors: Record<string, unknown> } };
    delete noExecutor.deploymentSpec.executors['exec-train'];
    expect(validatePipeline(noExecutor)).toEqual(['component comp-train: no executor exec-train']);
    const cycle = structuredClone(pipelineSpec) as { root: { dag: { tasks: Record<string, { dependentTasks?: string[] }> } } };
    cycle.root.dag.tasks['seed-data']!.dependentTasks = ['gate-decision'];
    expect(validatePipeline(cycle).join()).toMatch(/dependency cycle/);
    expect(validatePipeline({ ...pipelineSpec, schemaVersion: '9' }).join()).toMatch(/schemaVersion/);
    const typo = structuredClone(pipelineSpec) as { deploymentSpec: { executors: Record<string, { container: Record<string, unknown> }> } };
    typo.deploymentSpec.executors['exec-train']!.container.arg = [];
    expect(validatePipeline(typo).join()).toMatch(/arg/);
    const placeholder = structuredClone(pipelineSpec) as { deploymentSpec: { executors: Record<string, { container: { args: string[] } }> } };
    placeholder.deploymentSpec.executors['exec-evaluate']!.container.args.push("{{$.inputs.parameters['epochs']}}");
    expect(validatePipeline(placeholder)).toEqual(['executor exec-evaluate: placeholder for undeclared input epochs']);
    const platform = structuredClone(platformSpec) as { platforms: { kubernetes: { deploymentSpec: { executors: Record<string, unknown> } } } };
    platform.platforms.kubernetes.deploymentSpec.executors['exec-nope'] = { secretAsEnv: [] };
    expect(validatePipeline(pipelineSpec, platform)).toEqual(['platform spec configures unknown executor exec-nope']);
  });

  it('the committed pipeline.yaml is what the compiler produces (two documents: pipeline, platform)', () => {
    const text = readFileSync(join(repoRoot, 'deploy/kubeflow/generated/pipeline.yaml'), 'utf8');
    expect(text).toBe(pipelineYaml(compiled));
    const docs = parseAllDocuments(text).map((d) => d.toJS() as unknown);
    expect(docs).toEqual([pipelineSpec, platformSpec]);
    const r = cli(['compile-pipeline']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(text);
  });
});
