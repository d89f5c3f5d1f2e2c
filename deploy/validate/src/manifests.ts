import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { crdErrors, type CrdValidators } from './crd';

export const repoRoot = resolve(import.meta.dirname, '../../..');
export const toolsBin = join(repoRoot, '.tools/bin');
export const chartDir = join(repoRoot, 'deploy/helm/mlpipe');
export const sharedCrds = resolve(repoRoot, '../shared/crds');

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [k: string]: unknown };
  [k: string]: unknown;
}

/** The path of a tool installed by deploy/scripts/install-tools.sh, or a one-line how-to. */
export function tool(name: 'helm' | 'kubectl'): string {
  const path = join(toolsBin, name);
  if (!existsSync(path)) throw new Error(`${name} is not installed: run deploy/scripts/install-tools.sh`);
  return path;
}

export function helm(args: string[]): string {
  return execFileSync(tool('helm'), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function renderChart(profile: 'dev' | 'prod', extra: string[] = []): K8sObject[] {
  return parseManifests(helm(['template', 'mlpipe', chartDir, '-f', join(chartDir, `values-${profile}.yaml`), ...extra]));
}

export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => !!o && typeof o === 'object');
}

/** Core kinds come with schemas in kubernetes-models (types and required fields). */
async function coreErrors(obj: K8sObject): Promise<string[] | undefined> {
  let mod: Record<string, new (o: unknown) => { validate(): void }>;
  try {
    mod = (await import(`kubernetes-models/${obj.apiVersion}/${obj.kind}`)) as typeof mod;
  } catch {
    return undefined;
  }
  const Model = mod[obj.kind];
  if (!Model) return undefined;
  try {
    new Model(obj).validate();
    return [];
  } catch (err) {
    return [(err as Error).message];
  }
}

/**
 * Validates one object: core kinds against Kubernetes' schemas, custom resources against our CRD
 * copies (unknown fields rejected). Kinds we have no schema for are reported, never passed silently.
 */
export async function validateObject(obj: K8sObject, crds: CrdValidators, known: Record<string, (o: K8sObject) => string[]> = {}): Promise<string[]> {
  const where = `${obj.kind}/${obj.metadata?.name ?? '?'}`;
  const key = `${obj.apiVersion} ${obj.kind}`;
  const crd = crds.get(key);
  const errors = crd ? crdErrors(crd, obj) : known[key] ? known[key](obj) : await coreErrors(obj);
  if (errors === undefined) return [`${where}: no schema known for ${key}`];
  return errors.map((e) => `${where}: ${e}`);
}

/** Prometheus Operator kinds: no CRD copy is available offline, so their shape is checked by hand. */
export const PROMETHEUS_OPERATOR_CHECKS: Record<string, (o: K8sObject) => string[]> = {
  'monitoring.coreos.com/v1 ServiceMonitor': (o) => {
    const spec = o.spec as { selector?: unknown; endpoints?: { port?: string; path?: string }[] } | undefined;
    const errs: string[] = [];
    if (!spec?.selector) errs.push('spec.selector is required');
    if (!spec?.endpoints?.length) errs.push('spec.endpoints needs at least one endpoint');
    for (const e of spec?.endpoints ?? []) if (!e.port) errs.push('every endpoint names a port');
    return errs;
  },
  'monitoring.coreos.com/v1 PrometheusRule': (o) => {
    const spec = o.spec as { groups?: { name?: string; rules?: { alert?: string; record?: string; expr?: string }[] }[] } | undefined;
    const errs: string[] = [];
    if (!spec?.groups?.length) errs.push('spec.groups is required');
    for (const g of spec?.groups ?? []) {
      if (!g.name) errs.push('every group has a name');
      for (const r of g.rules ?? []) if (!r.expr || !(r.alert || r.record)) errs.push(`rule ${r.alert ?? r.record ?? '?'} needs expr and alert or record`);
    }
    return errs;
  },
};
