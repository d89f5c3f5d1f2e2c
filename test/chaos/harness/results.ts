import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './services';

/** One scenario's measured row of docs/reliability.md's table. */
export interface ResultRow {
  id: string;
  /** The fault as the table states it. */
  fault: string;
  outcome: 'passed' | 'failed';
  /** The checks that failed, each with what was seen. */
  failures: string[];
  /** Committed steps trained again (undefined: the job never trained past the fault). */
  stepsLost: number | undefined;
  stepsLostBound: number;
  /** Fault end → the measured sign of recovery (recoveryMeasure), in seconds. */
  recoverySec: number | undefined;
  recoveryMeasure: string;
  /** The scenario from the first server started to the last check. */
  durationSec: number;
  finishedAt: string;
  /** The commit the services ran from, with the count of locally modified files. */
  tree: string;
  notes: string[];
}

/** One file per scenario (files run in parallel workers), merged by render.ts. */
export const RESULTS_DIR = join(ROOT, '.mlpipe', 'chaos-results');

export function writeResult(row: ResultRow): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `${row.id}.json`), `${JSON.stringify(row, null, 2)}\n`);
}

export function readResults(dir = RESULTS_DIR): ResultRow[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  return files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as ResultRow);
}
