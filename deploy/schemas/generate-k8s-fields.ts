/**
 * Regenerates k8s-fields.json: the field names and types of every Kubernetes API model, read from
 * the OpenAPI-generated models that @kubernetes/client-node ships. We keep only this derived table
 * (not the package, which is large and pulls a newer @types/node) so the tests run offline.
 *
 *   npm pack @kubernetes/client-node@2.0.1 --pack-destination /tmp/kcn && tar -xzf /tmp/kcn/*.tgz -C /tmp/kcn
 *   npx tsx deploy/schemas/generate-k8s-fields.ts /tmp/kcn/package > deploy/schemas/k8s-fields.json
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

interface Attribute {
  baseName: string;
  type: string;
}

async function main(packageDir: string): Promise<void> {
  const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { name: string; version: string };
  const modelsDir = join(packageDir, 'dist/gen/models');
  const models: Record<string, Record<string, string>> = {};
  let spec = '';
  for (const file of readdirSync(modelsDir).filter((f) => /^[A-Z].*\.js$/.test(f)).sort()) {
    spec ||= /OpenAPI spec version: (\S+)/.exec(readFileSync(join(modelsDir, file), 'utf8'))?.[1] ?? '';
    const mod = (await import(pathToFileURL(join(modelsDir, file)).href)) as Record<string, { attributeTypeMap?: Attribute[] }>;
    for (const [name, cls] of Object.entries(mod)) {
      if (!cls.attributeTypeMap) continue;
      models[name] = Object.fromEntries(cls.attributeTypeMap.map((a) => [a.baseName, a.type]));
    }
  }
  // One model per line keeps diffs of a regeneration readable.
  const lines = Object.entries(models).map(([name, fields]) => `    ${JSON.stringify(name)}: ${JSON.stringify(fields)}`);
  process.stdout.write(`{\n  "source": "${pkg.name}@${pkg.version} dist/gen/models, OpenAPI spec ${spec}",\n  "models": {\n${lines.join(',\n')}\n  }\n}\n`);
}

const dir = process.argv[2];
if (!dir) {
  console.error('usage: generate-k8s-fields.ts EXTRACTED_PACKAGE_DIR > deploy/schemas/k8s-fields.json');
  process.exit(2);
}
await main(dir);
