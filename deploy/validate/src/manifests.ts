import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { crdErrors, type CrdValidators } from './crd';
import type { K8sFieldChecker } from './k8sFields';
import { chartDir, helm } from './tools';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [k: string]: unknown };
  [k: string]: unknown;
}

export type Profile = 'dev' | 'prod';

export function renderChart(profile: Profile, extra: string[] = []): K8sObject[] {
  return parseManifests(helm(['template', 'mlpipe', chartDir, '-f', join(chartDir, `values-${profile}.yaml`), ...extra]));
}

export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw new Error(`YAML error: ${d.errors[0]?.message ?? ''}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => !!o && typeof o === 'object');
}

/** Core kinds: types, enums and required fields from kubernetes-models' compiled schemas. */
async function modelErrors(obj: K8sObject): Promise<string[] | undefined> {
  let mod: Record<string, new (o: unknown) => { validate(): void }>;
  try {
    mod = (await import(/* @vite-ignore */ `kubernetes-models/${obj.apiVersion}/${obj.kind}`)) as typeof mod;
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

export interface Validators {
  crds: CrdValidators;
  fields: K8sFieldChecker;
  /** Kinds with neither a CRD copy nor a Kubernetes schema, checked by hand (apiVersion + kind → errors). */
  extra?: Record<string, (o: K8sObject) => string[]>;
}

/**
 * Validates one object: custom resources against our CRD copies, core kinds against Kubernetes'
 * schemas plus the unknown-field check, others by `extra`. A kind with no schema at all is an
 * error, never a silent pass.
 */
export async function validateObject(obj: K8sObject, v: Validators): Promise<string[]> {
  const where = `${obj.kind}/${obj.metadata?.name ?? '?'}`;
  const key = `${obj.apiVersion} ${obj.kind}`;
  const crd = v.crds.get(key);
  let errors: string[] | undefined;
  if (crd) errors = crdErrors(crd, obj);
  else if (v.extra?.[key]) errors = v.extra[key](obj);
  else {
    const model = v.fields.modelFor(obj.apiVersion, obj.kind);
    const typed = await modelErrors(obj);
    if (model && typed) errors = [...typed, ...v.fields.unknownFields(obj, model).map((p) => `unknown field ${p}`)];
  }
  if (errors === undefined) return [`${where}: no schema known for ${key}`];
  return errors.map((e) => `${where}: ${e}`);
}

export async function validateAll(objects: K8sObject[], v: Validators): Promise<string[]> {
  return (await Promise.all(objects.map((o) => validateObject(o, v)))).flat();
}
