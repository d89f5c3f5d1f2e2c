import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '@mlpipe/common';

/** The kubectl from deploy/scripts/install-tools.sh when present, else the one on PATH. */
export function kubectlPath(repoRoot = resolve(import.meta.dirname, '../../..')): string {
  const local = join(repoRoot, '.tools/bin/kubectl');
  return existsSync(local) ? local : 'kubectl';
}

const firstLine = (s: string) => s.trim().split('\n')[0] ?? '';

/**
 * `kubectl apply -f -` with the manifest on stdin, after checking that a cluster is configured at
 * all, so the common case (no cluster here) gets one clear line instead of a connection error.
 */
export function kubectlApply(yaml: string, kubectl = kubectlPath()): string {
  const context = spawnSync(kubectl, ['config', 'current-context'], { encoding: 'utf8' });
  if (context.error) throw new ConfigError(`kubectl is not installed (${kubectl}): run deploy/scripts/install-tools.sh, or use --dry-run to print the manifest`, { cause: context.error });
  if (context.status !== 0) {
    throw new ConfigError('no Kubernetes cluster is configured (kubectl has no current context): set KUBECONFIG or a context, or use --dry-run to print the manifest');
  }
  const apply = spawnSync(kubectl, ['apply', '-f', '-'], { input: yaml, encoding: 'utf8' });
  if (apply.status !== 0) throw new ConfigError(`kubectl apply failed in context ${context.stdout.trim()}: ${firstLine(apply.stderr)}`);
  return apply.stdout.trim();
}
