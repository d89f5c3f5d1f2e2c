import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface LoadResult {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  requests: number;
}

/** A wrk Lua script that POSTs one JSON body (the same bytes every request, as the comparison did). */
export function postScript(body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mlpipe-wrk-'));
  const file = join(dir, 'post.lua');
  writeFileSync(file, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${JSON.stringify(body)}\n`);
  return file;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

/** wrk's `--latency` report: requests/s, the 50% and 99% lines, and every non-2xx answer or socket error. */
export function parseWrk(out: string): LoadResult {
  const duration = (label: string) => {
    const m = new RegExp(`^\\s*${label}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    if (!m) throw new Error(`wrk printed no ${label}% latency:\n${out}`);
    return Number(m[1]) * (UNIT_MS[m[2] as string] ?? Number.NaN);
  };
  const count = (re: RegExp) => Number(re.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = socket ? socket.slice(1).reduce((n, x) => n + Number(x), 0) : 0;
  const requests = count(/(\d+) requests in /);
  const nonOk = count(/Non-2xx or 3xx responses: (\d+)/);
  return {
    requestsPerSec: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN),
    p50Ms: duration('50'),
    p99Ms: duration('99'),
    errors: nonOk + socketErrors,
    requests,
  };
}

/** A closed loop of `concurrency` connections for `seconds`, by wrk (threads: at most 2, one per core here). */
export async function wrkLoad(url: string, script: string, concurrency: number, seconds: number): Promise<LoadResult> {
  const threads = Math.min(2, concurrency);
  const { stdout } = await run('wrk', ['-t', String(threads), '-c', String(concurrency), '-d', `${seconds}s`, '--latency', '--timeout', '5s', '-s', script, url], { timeout: (seconds + 30) * 1000 });
  return parseWrk(stdout);
}
