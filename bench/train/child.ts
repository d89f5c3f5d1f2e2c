import { spawn } from 'node:child_process';
import { parseEntryOutput, type EntryResult } from './result';

/**
 * Runs one benchmark entry as a child process: its progress (stderr) passes through, its result is
 * the last JSON line of stdout. A non-zero exit or a missing line rejects, naming the entry.
 */
export function runEntry(label: string, command: string, args: string[], cwd: string): Promise<EntryResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    child.on('error', (err) => reject(new Error(`${label} did not start: ${err.message}`, { cause: err })));
    child.on('close', (code, signal) => {
      if (code !== 0) return reject(new Error(`${label} exited with ${signal ?? `code ${code}`}; stdout: ${stdout.slice(-500) || '(empty)'}`));
      try {
        resolvePromise(parseEntryOutput(stdout, label));
      } catch (err) {
        reject(err as Error);
      }
    });
  });
}
