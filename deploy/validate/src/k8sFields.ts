import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Rejects fields Kubernetes does not know, the way `kubectl apply --validate=strict` does.
 * kubernetes-models checks types and required fields but lets unknown keys through, so a
 * misspelt `readinessProb:` would reach the cluster and be dropped there without a word.
 * The table (deploy/schemas/k8s-fields.json) is derived from the OpenAPI-generated models.
 */
type FieldTable = Record<string, Record<string, string>>;

export interface K8sFieldChecker {
  /** The model for an apiVersion + kind, e.g. apps/v1 Deployment → V1Deployment; undefined if unknown. */
  modelFor(apiVersion: string, kind: string): string | undefined;
  /** Paths of unknown fields in `obj`, checked against `model` and every nested model. */
  unknownFields(obj: unknown, model: string): string[];
}

const SCALARS = new Set(['string', 'number', 'boolean', 'Date', 'any', 'IntOrString', 'V1MicroTime']);

export function loadK8sFields(schemasDir: string): K8sFieldChecker {
  const { models } = JSON.parse(readFileSync(join(schemasDir, 'k8s-fields.json'), 'utf8')) as { models: FieldTable };

  const walk = (value: unknown, type: string, path: string, out: string[]): void => {
    if (value === null || value === undefined || SCALARS.has(type)) return;
    const array = /^Array<(.+)>$/.exec(type);
    if (array) {
      if (Array.isArray(value)) value.forEach((v, i) => walk(v, array[1]!, `${path}[${i}]`, out));
      return;
    }
    const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
    if (map) {
      if (typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, map[1]!, `${path}.${k}`, out);
      return;
    }
    const fields = models[type];
    // Type mismatches (an array where an object belongs) are kubernetes-models' to report.
    if (!fields || typeof value !== 'object' || Array.isArray(value)) return;
    for (const [k, v] of Object.entries(value)) {
      const fieldType = fields[k];
      if (fieldType === undefined) out.push(`${path ? `${path}.` : ''}${k}`);
      else walk(v, fieldType, `${path ? `${path}.` : ''}${k}`, out);
    }
  };

  return {
    modelFor(apiVersion, kind) {
      const version = apiVersion.split('/').pop() ?? '';
      const name = `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
      return models[name]?.kind ? name : undefined;
    },
    unknownFields(obj, model) {
      const out: string[] = [];
      walk(obj, model, '', out);
      return out;
    },
  };
}
