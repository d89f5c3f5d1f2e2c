import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { tool } from './tools';

export interface ToolRun {
  ok: boolean;
  output: string;
}

/** Runs promtool in a scratch folder holding `files` (name → YAML text). */
function promtool(args: string[], files: Record<string, string>): ToolRun {
  const dir = mkdtempSync(join(tmpdir(), 'mlpipe-promtool-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const r = spawnSync(tool('promtool'), args, { cwd: dir, encoding: 'utf8' });
    return { ok: r.status === 0, output: `${r.stdout}${r.stderr}`.trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `promtool check rules` over rule groups (a PrometheusRule's spec.groups): PromQL syntax, durations, templates. */
export function checkRules(groups: unknown[]): ToolRun {
  return promtool(['check', 'rules', 'rules.yml'], { 'rules.yml': stringify({ groups }) });
}

/** `promtool test rules`: alert unit tests (series in, expected alerts out) against the groups. */
export function testRules(groups: unknown[], tests: unknown[]): ToolRun {
  return promtool(['test', 'rules', 'tests.yml'], {
    'rules.yml': stringify({ groups }),
    'tests.yml': stringify({ rule_files: ['rules.yml'], evaluation_interval: '1m', tests }),
  });
}

/**
 * Dashboard queries, checked by the same parser: each becomes a recording rule. Grafana's own
 * variables ($__rate_interval, $var) are replaced by something PromQL accepts first.
 */
export function checkQueries(queries: { where: string; expr: string }[]): ToolRun {
  const rules = queries.map((q, i) => ({
    record: `dashboard_query_${i}`,
    expr: q.expr.replace(/\$__(rate_interval|interval|range)\b/g, '5m').replace(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/g, 'x'),
  }));
  const run = checkRules([{ name: 'dashboards', rules }]);
  if (run.ok) return run;
  return { ok: false, output: `${run.output}\n${queries.map((q, i) => `dashboard_query_${i}: ${q.where}`).join('\n')}` };
}
