/* global process, console */
// Sets services.gateway.env.MODEL_VERSION in a chart values file (used by the CT workflow).
import { readFileSync, writeFileSync } from 'node:fs';
import { parseDocument } from 'yaml';

const [file, version] = process.argv.slice(2);
if (!file || !/^[1-9][0-9]*$/.test(version ?? '')) {
  console.error('usage: pin-model-version.mjs VALUES_FILE VERSION');
  process.exit(1);
}
const doc = parseDocument(readFileSync(file, 'utf8'));
if (!doc.hasIn(['services', 'gateway'])) doc.setIn(['services', 'gateway'], doc.createNode({ port: 8080, replicas: 1, env: {} }));
doc.setIn(['services', 'gateway', 'env', 'MODEL_VERSION'], String(version));
writeFileSync(file, doc.toString());
