import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadCrdValidators } from '../validate/src/crd';
import { loadK8sFields } from '../validate/src/k8sFields';
import { validateAll, type K8sObject, type Validators } from '../validate/src/manifests';
import { PROMETHEUS_OPERATOR_CHECKS } from '../validate/src/monitoring';
import { repoRoot, schemasDir, sharedCrds } from '../validate/src/tools';

export const SERVICES = ['dataset-watcher', 'orchestrator', 'trainer', 'registry', 'gateway', 'ui'] as const;
export type Service = (typeof SERVICES)[number];
export const PORTS: Record<Service, number> = { gateway: 8080, registry: 8081, orchestrator: 8082, ui: 8083, 'dataset-watcher': 8084, trainer: 8085 };

let cached: Validators | undefined;
/** CRDs from ../shared/crds (fails, naming the path, when the folder is missing), field table, monitoring checks. */
export function validators(): Validators {
  cached ??= { crds: loadCrdValidators(sharedCrds), fields: loadK8sFields(schemasDir), extra: PROMETHEUS_OPERATOR_CHECKS };
  return cached;
}

export const validate = (objects: K8sObject[]) => validateAll(objects, validators());

/** Every TypeScript source file of the libraries and services, as text (the working tree, not git). */
export function serviceSources(): string {
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((f) => {
      const p = join(d, f);
      if (f === 'node_modules' || f === 'test') return [];
      return statSync(p).isDirectory() ? walk(p) : f.endsWith('.ts') ? [p] : [];
    });
  return ['libs', 'services']
    .flatMap((top) => walk(join(repoRoot, top)))
    .filter((p) => relative(repoRoot, p).split('/')[2] === 'src')
    .map((p) => readFileSync(p, 'utf8'))
    .join('\n');
}
