import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';

type Schema = Record<string, unknown>;

/**
 * A JSON-Schema validator for custom resources, built from CRDs' openAPIV3Schema. The API server
 * prunes unknown fields silently; we reject them instead (a misspelt field is a bug we want to
 * see), except where the CRD says `x-kubernetes-preserve-unknown-fields`. CEL rules
 * (`x-kubernetes-validations`) are not evaluated.
 */
export function strictify(schema: Schema): Schema {
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k.startsWith('x-kubernetes-')) continue;
    if (k === 'properties' && v && typeof v === 'object') {
      out.properties = Object.fromEntries(Object.entries(v as Record<string, Schema>).map(([p, s]) => [p, strictify(s)]));
    } else if ((k === 'items' || k === 'additionalProperties' || k === 'not') && v && typeof v === 'object') {
      out[k] = strictify(v as Schema);
    } else if ((k === 'allOf' || k === 'anyOf' || k === 'oneOf') && Array.isArray(v)) {
      out[k] = v.map((s) => strictify(s as Schema));
    } else {
      out[k] = v;
    }
  }
  if (schema['x-kubernetes-int-or-string']) {
    delete out.type;
    out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  if (out.properties && !('additionalProperties' in out) && !schema['x-kubernetes-preserve-unknown-fields']) {
    out.additionalProperties = false;
  }
  return out;
}

export type CrdValidators = Map<string, ValidateFunction>;

/** Every CRD (every served version) under a folder, keyed "group/version Kind". */
export function loadCrdValidators(dir: string): CrdValidators {
  const ajv = new Ajv({ strict: false, allErrors: true });
  const validators: CrdValidators = new Map();
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((f) => {
      const p = join(d, f);
      return statSync(p).isDirectory() ? walk(p) : /\.ya?ml$/.test(f) ? [p] : [];
    });
  for (const file of walk(dir)) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      const crd = doc.toJS() as { kind?: string; spec?: { group: string; names: { kind: string }; versions: { name: string; schema?: { openAPIV3Schema: Schema } }[] } };
      if (crd?.kind !== 'CustomResourceDefinition' || !crd.spec) continue;
      for (const v of crd.spec.versions) {
        if (!v.schema) continue;
        const schema = strictify(v.schema.openAPIV3Schema);
        // metadata is the API server's business: any ObjectMeta fields.
        if (schema.properties) (schema.properties as Record<string, Schema>).metadata = { type: 'object' };
        validators.set(`${crd.spec.group}/${v.name} ${crd.spec.names.kind}`, ajv.compile(schema));
      }
    }
  }
  return validators;
}

export function crdErrors(validate: ValidateFunction, obj: unknown): string[] {
  if (validate(obj)) return [];
  return (validate.errors ?? []).map((e) => {
    const extra = e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty: string }).additionalProperty)})` : '';
    return `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${extra}`;
  });
}
