import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';

type Schema = Record<string, unknown>;

/**
 * A JSON-Schema validator for custom resources, built from CRDs' openAPIV3Schema. The API server
 * prunes unknown fields silently; we reject them instead (a misspelt field is a bug we want to
 * see), except where the CRD says `x-kubernetes-preserve-unknown-fields`. `nullable` admits null,
 * `x-kubernetes-int-or-string` admits both. CEL rules (`x-kubernetes-validations`) are not
 * evaluated: tests check the ones we depend on by hand.
 */
export function strictify(schema: Schema): Schema {
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k.startsWith('x-kubernetes-') || k === 'nullable') continue;
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
  if (schema.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  if (out.properties && !('additionalProperties' in out) && !schema['x-kubernetes-preserve-unknown-fields']) {
    out.additionalProperties = false;
  }
  return out;
}

/** Validators keyed "group/version Kind"; each is compiled the first time it is asked for. */
export interface CrdValidators {
  get(key: string): ValidateFunction | undefined;
  keys(): string[];
}

interface CrdDoc {
  kind?: string;
  spec?: { group: string; names: { kind: string }; versions: { name: string; schema?: { openAPIV3Schema: Schema } }[] };
}

/** Every CRD (every version with a schema) in the YAML files under a folder. */
export function loadCrdValidators(dir: string): CrdValidators {
  if (!existsSync(dir)) throw new Error(`CRD copies not found at ${dir}: the repository expects the shared folder beside it (../shared/crds)`);
  // The formats controller-gen writes; the API server checks their ranges, the types are checked here.
  const ajv = new Ajv({ strict: false, allErrors: true, formats: { int32: true, int64: true, 'date-time': true } });
  const schemas = new Map<string, Schema>();
  const compiled = new Map<string, ValidateFunction>();
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((f) => {
      const p = join(d, f);
      return statSync(p).isDirectory() ? walk(p) : /\.ya?ml$/.test(f) ? [p] : [];
    });
  for (const file of walk(dir)) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      const crd = doc.toJS() as CrdDoc | null;
      if (crd?.kind !== 'CustomResourceDefinition' || !crd.spec) continue;
      for (const v of crd.spec.versions) {
        if (v.schema) schemas.set(`${crd.spec.group}/${v.name} ${crd.spec.names.kind}`, v.schema.openAPIV3Schema);
      }
    }
  }
  return {
    keys: () => [...schemas.keys()],
    get(key) {
      const raw = schemas.get(key);
      if (!raw) return undefined;
      let fn = compiled.get(key);
      if (!fn) {
        const schema = strictify(raw);
        // metadata is the API server's business (ObjectMeta); the CRDs leave it open too.
        if (schema.properties) (schema.properties as Record<string, Schema>).metadata = { type: 'object' };
        fn = ajv.compile(schema);
        compiled.set(key, fn);
      }
      return fn;
    },
  };
}

export function crdErrors(validate: ValidateFunction, obj: unknown): string[] {
  if (validate(obj)) return [];
  return (validate.errors ?? []).map((e) => {
    const extra = e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty: string }).additionalProperty)})` : '';
    return `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${extra}`;
  });
}
