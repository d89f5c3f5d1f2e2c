import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

function cli(path: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', resolve(root, path), ...args], {
    cwd: root,
    env: { ...process.env, BUS_NAMESPACE: 'clitest', STORE_ROOT: resolve(root, '.mlpipe/cli-test-store'), ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.split('\n').filter((l) => l && !l.startsWith('npm warn')) };
}

describe('command-line tools fail with one readable line and a non-zero code', () => {
  it('mlpipe-data refuses an unknown dataset and a bad limit', () => {
    const r = cli('services/dataset-watcher/src/cli.ts', ['seed', 'cifar']);
    expect(r.code).toBe(1);
    expect(r.stderr).toEqual(['mlpipe-data: seed takes mnist or fashion-mnist, got "cifar"']);
    const limit = cli('services/dataset-watcher/src/cli.ts', ['seed', 'mnist', '--train-limit', 'lots']);
    expect(limit.code).toBe(1);
    expect(limit.stderr).toEqual(['mlpipe-data: --train-limit must be a positive whole number, got "lots"']);
  });

  it('mlpipe-data reports a misconfigured environment by key', () => {
    const r = cli('services/dataset-watcher/src/cli.ts', ['seed', 'mnist'], { STORE_KIND: 's3' });
    expect(r.code).toBe(1);
    expect(r.stderr).toHaveLength(1);
    expect(r.stderr[0]).toMatch(/^mlpipe-data: invalid configuration: .*S3_ENDPOINT is required when STORE_KIND=s3/);
  });

  it('mlpipe-jobs says when the orchestrator does not answer, and rejects bad numbers', () => {
    const r = cli('services/orchestrator/src/cli.ts', ['get', 'job-1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toEqual(['mlpipe-jobs: no answer to orchestrator.jobs.get within 10000 ms: is its service running?']);
    const bad = cli('services/orchestrator/src/cli.ts', ['submit', '--epochs', 'ten']);
    expect(bad.stderr).toEqual(['mlpipe-jobs: --epochs must be a number, got "ten"']);
    const spec = cli('services/orchestrator/src/cli.ts', ['sweep', '--spec', '{grid']);
    expect(spec.code).toBe(1);
    expect(spec.stderr).toHaveLength(1);
    expect(spec.stderr[0]).toMatch(/^mlpipe-jobs: --spec is not JSON: /);
  });

  it('mlpipe-registry says when the registry does not answer', () => {
    const r = cli('services/registry/src/cli.ts', ['models'], { REGISTRY_URL: 'http://127.0.0.1:1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toEqual(['mlpipe-registry: the registry at http://127.0.0.1:1 does not answer: is it running?']);
  });
});
