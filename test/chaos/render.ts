/**
 * `npx tsx test/chaos/render.ts`: puts the rows the chaos scenarios measured (.mlpipe/chaos-results/)
 * into docs/reliability.md's table, between its markers, and writes them all to
 * .mlpipe/chaos-results.json. Rows keep the scenarios' order (ORDER); a scenario not run keeps no row.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readResults, type ResultRow } from './harness/results';
import { ROOT } from './harness/services';

const DOC = join(ROOT, 'docs', 'reliability.md');
const START = '<!-- chaos-results:start -->';
const END = '<!-- chaos-results:end -->';
const ORDER = [
  'baseline',
  'nats-restart-forming',
  'nats-restart-mid-step',
  'nats-restart-checkpoint',
  'nats-restart-evaluation',
  'nats-down-90s',
  'postgres-down-mid-job',
  'postgres-down-registration',
  'store-down-checkpoint',
  'sigkill-coordinator',
  'sigkill-worker',
  'sigkill-orchestrator',
  'sigkill-registry',
  'sigkill-gateway',
  'sigstop-worker-2min',
];

const rank = (id: string) => ORDER.indexOf(id);
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const short = (s: string, n = 160) => (s.length > n ? `${s.slice(0, n)}…` : s);

function renderTable(rows: ResultRow[]): string {
  const sorted = [...rows].sort((a, b) => rank(a.id) - rank(b.id) || a.id.localeCompare(b.id));
  const lines = [
    '| Fault | Outcome | Steps lost (bound) | Recovery (s) | Recovery measured as | Scenario (s) |',
    '|---|---|---|---|---|---|',
    ...sorted.map((r) => {
      const outcome = r.outcome === 'passed' ? 'passed: every check' : `**failed** (${r.failures.length}): ${short(r.failures.map((f) => f.split(':')[0]).join('; '))}`;
      const lost = r.stepsLost === undefined ? `– (≤ ${r.stepsLostBound})` : `${r.stepsLost} (≤ ${r.stepsLostBound})`;
      const recovery = r.recoverySec === undefined ? '–' : r.recoverySec.toFixed(1);
      return `| ${cell(r.fault)} | ${cell(outcome)} | ${lost} | ${recovery} | ${cell(r.recoveryMeasure)} | ${r.durationSec.toFixed(0)} |`;
    }),
  ];
  const failed = sorted.filter((r) => r.outcome === 'failed');
  if (failed.length) {
    lines.push('', 'What failed, as the checks saw it:', '');
    for (const r of failed) {
      lines.push(`- **${r.id}** (${r.tree}, ${r.finishedAt.slice(0, 16).replace('T', ' ')} UTC)`);
      for (const f of r.failures) lines.push(`  - ${cell(short(f, 400))}`);
    }
  }
  lines.push('', `Notes of the run: ${sorted.map((r) => `${r.id}: ${r.notes.join('; ')}`).join(' · ')}`);
  return lines.join('\n');
}

function main(): void {
  const all = readResults();
  // Only the suite's scenarios: a scratch scenario someone ran with the harness keeps no row.
  const rows = all.filter((r) => ORDER.includes(r.id));
  const skipped = all.filter((r) => !ORDER.includes(r.id)).map((r) => r.id);
  if (skipped.length) console.log(`not rendered (not in render.ts's ORDER): ${skipped.join(', ')}`);
  if (!rows.length) throw new Error('no results in .mlpipe/chaos-results/: run the chaos scenarios first (npx vitest run test/chaos/)');
  writeFileSync(join(ROOT, '.mlpipe', 'chaos-results.json'), `${JSON.stringify(rows, null, 2)}\n`);
  const doc = readFileSync(DOC, 'utf8');
  const from = doc.indexOf(START);
  const to = doc.indexOf(END);
  if (from < 0 || to < from) throw new Error(`${DOC} lacks the markers ${START} … ${END}`);
  writeFileSync(DOC, `${doc.slice(0, from + START.length)}\n${renderTable(rows)}\n${doc.slice(to)}`);
  console.log(`docs/reliability.md: ${rows.length} row(s)`);
}

main();
