import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { ARTEFACT_FILES, INCOMING_FILES, INCOMING_MANIFEST_FILE, NORMALISED_FILES, storeKeys } from '../src';

/**
 * The grep-level guard behind "keys are built only in storeKeys": every string and template
 * literal of the given sources is checked for a store file name (batch.json, model.json, …) or a
 * key that starts at a layout root (datasets/, checkpoints/, models/, predictions/). Comments do
 * not count (they may name files); literals are read with the TypeScript parser, not a regex.
 */

/** The file names the layout uses, read from keys.ts itself so the check follows the layout. */
export const KEY_FILE_NAMES: readonly string[] = [
  INCOMING_MANIFEST_FILE,
  ...Object.values(INCOMING_FILES),
  ...Object.values(NORMALISED_FILES),
  ...ARTEFACT_FILES,
  lastSegment(storeKeys.checkpointPointer('j')),
];

/** The first segment of every key storeKeys builds from a fixed root. */
export const KEY_ROOTS: readonly string[] = [
  ...new Set(
    [storeKeys.normalisedBatch('d', 'h'), storeKeys.checkpointPointer('j'), storeKeys.modelArtefacts('m', 'j'), storeKeys.predictionLogs()].map(
      (key) => `${key.split('/')[0]}/`,
    ),
  ),
];

export interface KeyLiteral {
  file: string;
  line: number;
  text: string;
  why: string;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const FILE_NAME = new RegExp(`(?<![\\w.-])(${KEY_FILE_NAMES.map(escape).join('|')})(?![\\w.-])`);

/** The key-like literals of one source text (file is only used to report where). */
export function findKeyLiterals(file: string, source: string): KeyLiteral[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: KeyLiteral[] = [];
  const visit = (node: ts.Node) => {
    const text = literalText(node);
    if (text !== undefined) {
      const why = problemOf(text, startsKey(node));
      if (why) found.push({ file, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, text, why });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** Every .ts file under the given folders (skipping node_modules), relative to root. */
export function sourceFiles(root: string, dirs: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      if (name === 'node_modules') continue;
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(relative(root, full));
    }
  };
  for (const d of dirs) walk(join(root, d));
  return out.sort();
}

export function scanFiles(root: string, files: readonly string[]): KeyLiteral[] {
  return files.flatMap((f) => findKeyLiterals(f, readFileSync(join(root, f), 'utf8')));
}

function literalText(node: ts.Node): string | undefined {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) return node.text;
  return undefined;
}

/** Only the start of a whole literal can be the start of a key (a template's middle follows a value). */
function startsKey(node: ts.Node): boolean {
  return ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateHead(node);
}

function problemOf(text: string, atStart: boolean): string | undefined {
  const name = FILE_NAME.exec(text)?.[1];
  if (name) return `names the store file ${name}`;
  const root = atStart ? KEY_ROOTS.find((r) => text.startsWith(r)) : undefined;
  return root ? `builds a key under ${root}` : undefined;
}

function lastSegment(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}
