/**
 * Pins the model version the gateway serves in a chart values file (serving.modelVersion), keeping
 * the file's comments and layout. The CT workflow runs it and opens a pull request with the change;
 * merging it is the rollout (Argo CD syncs the chart).
 *   npx tsx deploy/scripts/pin-model-version.ts deploy/helm/mlpipe/values-prod.yaml 7
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseDocument } from 'yaml';

/** The file's new text, or undefined when it already pins that version. */
export function pinModelVersion(text: string, version: number): string | undefined {
  if (!Number.isInteger(version) || version < 1) throw new Error(`a model version is a whole number ≥ 1, got ${version}`);
  const doc = parseDocument(text);
  if (doc.errors.length) throw new Error(`values file is not valid YAML: ${doc.errors[0]?.message ?? ''}`);
  if (doc.getIn(['serving', 'modelVersion']) === version) return undefined;
  doc.setIn(['serving', 'modelVersion'], version);
  return doc.toString();
}

function main(argv: string[]): number {
  const [file, version] = argv;
  if (!file || !version || !/^[1-9][0-9]*$/.test(version)) {
    console.error('usage: pin-model-version.ts VALUES_FILE VERSION');
    return 2;
  }
  const next = pinModelVersion(readFileSync(file, 'utf8'), Number(version));
  if (next === undefined) {
    console.log(`${file} already serves version ${version}`);
    return 0;
  }
  writeFileSync(file, next);
  console.log(`${file} now serves version ${version}`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main(process.argv.slice(2));
