import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '../../..');
export const toolsBin = join(repoRoot, '.tools/bin');
export const chartDir = join(repoRoot, 'deploy/helm/mlpipe');
export const schemasDir = join(repoRoot, 'deploy/schemas');
/** CI has the shared folder beside the repository. */
export const sharedCrds = resolve(repoRoot, '../shared/crds');

export type Tool = 'helm' | 'kubectl' | 'promtool';

/** The path of a tool installed by deploy/scripts/install-tools.sh; a missing one fails with how to fix it. */
export function tool(name: Tool): string {
  const path = join(toolsBin, name);
  if (!existsSync(path)) throw new Error(`${name} is not installed in .tools/bin: run deploy/scripts/install-tools.sh`);
  return path;
}

export function helm(args: string[]): string {
  return execFileSync(tool('helm'), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
