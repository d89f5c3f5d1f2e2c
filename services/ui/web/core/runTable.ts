// The experiments table's logic, without the DOM: what a column's value is, filters, sorting, and
// which parameters differ between runs (for the compare page). Unit-tested in test/runTable.test.ts.

export interface RunRow {
  runId: string;
  status: string;
  params: Record<string, unknown>;
  tags: Record<string, string>;
  /** The latest value of every metric. */
  metrics: Record<string, number>;
  startedAt: string | null;
}

export type Cell = string | number | undefined;
export type Op = '=' | '!=' | '>' | '>=' | '<' | '<=' | '~';
export interface Clause {
  key: string;
  op: Op;
  value: string;
}

const OPS = /(>=|<=|!=|=|>|<|~)/;
const asCell = (v: unknown): Cell => (v === undefined || v === null ? undefined : typeof v === 'number' ? v : typeof v === 'string' ? v : JSON.stringify(v));

/**
 * A column's value: `params.x`, `tags.x` or `metrics.x`, `run` and `status`, or a bare name looked
 * up as a metric, then a parameter, then a tag (so `val_accuracy>0.9` and `arch=cnn-small` both work).
 */
export function valueOf(row: RunRow, key: string): Cell {
  if (key === 'run') return row.runId;
  if (key === 'status') return row.status;
  const dot = key.indexOf('.');
  const scope = dot > 0 ? key.slice(0, dot) : '';
  const name = dot > 0 ? key.slice(dot + 1) : key;
  if (scope === 'metrics') return row.metrics[name];
  if (scope === 'params') return asCell(row.params[name]);
  if (scope === 'tags') return row.tags[name];
  return row.metrics[key] ?? asCell(row.params[key]) ?? row.tags[key];
}

/** Parses `val_accuracy>0.9 arch=cnn-small tags.pruned!=true` (clauses are ANDed); a clause it cannot read is an error in words. */
export function parseFilter(text: string): { clauses: Clause[] } | { error: string } {
  const words = text.replace(/\s*(>=|<=|!=|=|>|<|~)\s*/g, '$1').trim().split(/\s+/).filter(Boolean);
  const clauses: Clause[] = [];
  for (const w of words) {
    const parts = w.split(OPS);
    if (parts.length < 3 || !parts[0] || parts[2] === undefined || parts[2] === '') return { error: `"${w}" is not a filter: write name, an operator (= != > >= < <= ~) and a value, e.g. val_accuracy>0.9` };
    clauses.push({ key: parts[0], op: parts[1] as Op, value: parts.slice(2).join('') });
  }
  return { clauses };
}

function holds(cell: Cell, op: Op, value: string): boolean {
  if (cell === undefined) return op === '!=';
  const n = Number(value);
  const numeric = typeof cell === 'number' && value.trim() !== '' && Number.isFinite(n);
  switch (op) {
    case '=':
      return numeric ? cell === n : String(cell) === value;
    case '!=':
      return numeric ? cell !== n : String(cell) !== value;
    case '~':
      return String(cell).toLowerCase().includes(value.toLowerCase());
    default: {
      const a = numeric ? (cell as number) : Number(cell);
      if (!Number.isFinite(a) || !Number.isFinite(n)) return false;
      return op === '>' ? a > n : op === '>=' ? a >= n : op === '<' ? a < n : a <= n;
    }
  }
}

export const matches = (row: RunRow, clauses: readonly Clause[]): boolean => clauses.every((c) => holds(valueOf(row, c.key), c.op, c.value));

/** Search by tag: a run matches when one of its tags, as `key=value`, contains the text (any case). */
export function hasTag(row: RunRow, text: string): boolean {
  const q = text.trim().toLowerCase();
  if (!q) return true;
  return Object.entries(row.tags).some(([k, v]) => `${k}=${v}`.toLowerCase().includes(q));
}

/** Rows sorted by a column: numbers numerically, text alphabetically, missing values last either way. */
export function sortRows(rows: readonly RunRow[], key: string, dir: 'asc' | 'desc'): RunRow[] {
  const sign = dir === 'asc' ? 1 : -1;
  return [...rows].sort((a, b) => {
    const x = valueOf(a, key);
    const y = valueOf(b, key);
    if (x === undefined || y === undefined) return x === y ? 0 : x === undefined ? 1 : -1;
    if (typeof x === 'number' && typeof y === 'number') return sign * (x - y);
    return sign * String(x).localeCompare(String(y), undefined, { numeric: true });
  });
}

/** Every key of the given records, sorted. */
export const keysOf = (records: readonly Record<string, unknown>[]): string[] => [...new Set(records.flatMap((r) => Object.keys(r)))].sort();

/** The keys whose values are not the same in every record (a key some records lack differs too). */
export function differingKeys(records: readonly Record<string, unknown>[]): Set<string> {
  const differing = new Set<string>();
  for (const key of keysOf(records)) {
    const seen = new Set(records.map((r) => JSON.stringify(r[key] ?? null)));
    if (seen.size > 1) differing.add(key);
  }
  return differing;
}
