import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  BaseConfigSchema,
  DatasetWatcherConfigSchema,
  GatewayConfigSchema,
  OrchestratorConfigSchema,
  RegistryConfigSchema,
  TrainerConfigSchema,
  UiConfigSchema,
  loadConfig,
} from '../src';

/** The README's "Configuration" table held to the schemas, as docs/events.md is held to the catalogue. */
const SERVICES: Record<string, z.ZodObject> = {
  'dataset-watcher': DatasetWatcherConfigSchema,
  orchestrator: OrchestratorConfigSchema,
  trainer: TrainerConfigSchema,
  registry: RegistryConfigSchema,
  gateway: GatewayConfigSchema,
  ui: UiConfigSchema,
};
const ALIASES: Record<string, string> = { watcher: 'dataset-watcher' };

export interface ConfigRow {
  line: number;
  /** Each variable of the row with the default the row states for it, if any. */
  vars: { name: string; documented?: string }[];
  /** The services of the "used by" column; "all" for every service; [] when it says neither. */
  usedBy: string[];
}

/** Reads the table under "## Configuration": `VAR` (default) lists in the first column, the default column, the users column. */
export function parseConfigTable(markdown: string): ConfigRow[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.trim() === '## Configuration');
  if (start < 0) throw new Error('the README has no "## Configuration" section');
  const rows: ConfigRow[] = [];
  for (let i = start + 1; i < lines.length && !lines[i]!.startsWith('## '); i++) {
    const cells = lines[i]!.split('|').slice(1, -1).map((c) => c.trim());
    if (cells.length !== 3 || !cells[0]!.startsWith('`')) continue;
    const [names, fallback, users] = cells as [string, string, string];
    const vars = [...names.matchAll(/`([A-Z][A-Z0-9_]*)`(?:\s*\(([^)]*)\))?/g)].map((m) => (m[2] === undefined ? { name: m[1]! } : { name: m[1]!, documented: plain(m[2]) }));
    if (vars.length === 1 && fallback && !vars[0]!.documented) vars[0] = { name: vars[0]!.name, documented: plain(fallback) };
    const first = users.split(/[:(]/)[0]!;
    const usedBy = first.trim() === 'all' ? ['all'] : first.split(',').map((s) => s.trim()).map((s) => ALIASES[s] ?? s).filter((s) => s in SERVICES);
    rows.push({ line: i + 1, vars, usedBy });
  }
  return rows;
}

/** A cell's value without code quotes; a list of choices (`a`/`b`/`c`) keeps only the first, the default. */
const plain = (s: string) => (/^`[^`]+`(\/`[^`]+`)+$/.test(s.trim()) ? s.trim().split('/')[0]! : s).replace(/`/g, '').trim();

/** What a service's schema gives a key when the environment leaves it unset. */
function defaultsOf(schema: z.ZodObject): Record<string, unknown> {
  return loadConfig(schema, {}) as Record<string, unknown>;
}

/** Everything the table says that the schemas contradict, one line each. */
export function configTableProblems(rows: ConfigRow[]): string[] {
  const problems: string[] = [];
  const documented = new Map<string, ConfigRow>();
  for (const row of rows) for (const v of row.vars) documented.set(v.name, row);
  const owners = (key: string) => Object.keys(SERVICES).filter((s) => key in SERVICES[s]!.shape);

  const all = new Set(Object.values(SERVICES).flatMap((s) => Object.keys(s.shape)));
  for (const key of all) if (!documented.has(key)) problems.push(`${key} (${owners(key).join(', ')}) is missing from the table`);

  for (const row of rows) {
    for (const v of row.vars) {
      const services = owners(v.name);
      if (!services.length) {
        problems.push(`line ${row.line}: ${v.name} is in no config schema`);
        continue;
      }
      // A shared setting may name the services that really use it (DATABASE_URL); any other names exactly its services.
      const shared = v.name in BaseConfigSchema.shape;
      if (row.usedBy.length && !shared && row.usedBy.join() !== services.join()) {
        problems.push(`line ${row.line}: ${v.name} is used by ${services.join(', ')}, not ${row.usedBy.join(', ')}`);
      }
      if (v.documented === undefined || v.documented === '' || v.name === 'HTTP_PORT') continue;
      const defaults = services.map((s) => defaultsOf(SERVICES[s]!)[v.name]);
      const actual = defaults[0] === undefined ? 'unset' : String(defaults[0]);
      const said = v.documented.startsWith('unset') ? 'unset' : v.documented;
      if (v.documented === 'JSON') {
        if (typeof defaults[0] !== 'string' || !isJson(defaults[0])) problems.push(`line ${row.line}: ${v.name} is documented as JSON but defaults to ${actual}`);
      } else if (said !== actual) problems.push(`line ${row.line}: ${v.name} defaults to ${actual}, the table says ${v.documented}`);
    }
  }
  const ports = rows.find((r) => r.vars.some((v) => v.name === 'HTTP_PORT'));
  const portCell = ports ? readme.split('\n')[ports.line - 1]!.split('|')[2]! : '';
  for (const [service, schema] of Object.entries(SERVICES)) {
    const port = defaultsOf(schema).HTTP_PORT;
    const name = service === 'dataset-watcher' ? 'watcher' : service;
    if (!new RegExp(`\\b${name} ${String(port)}\\b`).test(portCell)) problems.push(`HTTP_PORT: the table does not give ${name} its default ${String(port)}`);
  }
  return problems;
}

function isJson(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

describe('the README configuration table', () => {
  it('lists every setting of every service schema, with its real default and its services', () => {
    expect(configTableProblems(parseConfigTable(readme))).toEqual([]);
  });

  it('would catch a missing key, a wrong default, a wrong service and a key that does not exist', () => {
    const rows = parseConfigTable(readme);
    const broken = rows
      .filter((r) => !r.vars.some((v) => v.name === 'DRIFT_WINDOW'))
      .map((r) => ({ ...r, vars: r.vars.map((v) => (v.name === 'GATE_MARGIN' ? { ...v, documented: '0.5' } : v)), usedBy: r.vars.some((v) => v.name === 'CANARY_SHARE') ? ['trainer'] : r.usedBy }));
    broken.push({ line: 999, vars: [{ name: 'NO_SUCH_SETTING' }], usedBy: [] });
    const problems = configTableProblems(broken);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^DRIFT_WINDOW \(dataset-watcher\) is missing/),
        expect.stringMatching(/GATE_MARGIN defaults to 0.002, the table says 0.5/),
        expect.stringMatching(/CANARY_SHARE is used by gateway, not trainer/),
        'line 999: NO_SUCH_SETTING is in no config schema',
      ]),
    );
  });
});
