import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, type WriteStream } from 'node:fs';

/**
 * Child processes of a chaos scenario: each writes its output to a log file of its own, can be
 * signalled (SIGKILL, SIGSTOP/SIGCONT), stopped (SIGTERM, then SIGKILL after a deadline) and
 * started again with the same command (the log goes on in the same file). Every child is killed
 * when the test process exits, even after a failed assertion or a crash of the harness.
 */
export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  logFile: string;
}

const live = new Set<ChildProcess>();
let guarded = false;

/** The 'exit' guard: synchronous, so it runs even when vitest tears the worker down. */
function guardExit(): void {
  if (guarded) return;
  guarded = true;
  process.once('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL'); // a SIGSTOPped child dies of SIGKILL too
      } catch {
        // already gone
      }
    }
  });
}

/** An exit the harness did not ask for (no kill() or stop() before it): a crash. */
export interface Crash {
  at: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ManagedProcess {
  private child: ChildProcess | undefined;
  private log: WriteStream | undefined;
  private exitedAt: number | undefined;
  private exitRequested = false;
  private readonly unasked: Crash[] = [];

  constructor(readonly spec: ProcessSpec) {
    guardExit();
  }

  get name(): string {
    return this.spec.name;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Spawns the command (again); a no-op while it runs. */
  start(): void {
    if (this.running()) return;
    this.log ??= createWriteStream(this.spec.logFile, { flags: 'a' });
    this.log.write(`\n--- chaos: ${this.spec.name} started at ${new Date().toISOString()} ---\n`);
    const child = spawn(this.spec.command, this.spec.args, { cwd: this.spec.cwd, env: this.spec.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    live.add(child);
    this.exitedAt = undefined;
    this.exitRequested = false;
    child.once('exit', (code, signal) => {
      live.delete(child);
      this.exitedAt = Date.now();
      if (!this.exitRequested) this.unasked.push({ at: this.exitedAt, code, signal });
      this.log?.write(`\n--- chaos: ${this.spec.name} exited (code ${code}, signal ${signal}) at ${new Date().toISOString()} ---\n`);
    });
    this.child = child;
  }

  /** Sends a signal without waiting (SIGSTOP, SIGCONT, or a kill whose end the caller awaits with exited()). */
  signal(sig: NodeJS.Signals): void {
    if (!this.running()) throw new Error(`${this.spec.name} is not running; cannot send ${sig}`);
    this.child?.kill(sig);
  }

  /** Resolves once the current child has exited (at once when none runs). */
  async exited(): Promise<void> {
    const child = this.child;
    if (!child || !this.running()) return;
    await new Promise<void>((resolve) => child.once('exit', () => resolve()));
  }

  /** SIGKILL, resolved once the process is gone: a crash, nothing gets to clean up. */
  async kill(): Promise<void> {
    if (!this.running()) return;
    this.exitRequested = true;
    this.child?.kill('SIGKILL');
    await this.exited();
  }

  /** SIGTERM (a continued process, in case it was stopped), SIGKILL after `deadlineMs`. */
  async stop(deadlineMs = 15_000): Promise<void> {
    if (!this.running()) return;
    const child = this.child as ChildProcess;
    this.exitRequested = true;
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    const late = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
    await this.exited();
    clearTimeout(late);
  }

  /** Exits nobody asked for, so far. */
  crashes(): readonly Crash[] {
    return this.unasked;
  }

  /** When the last child exited (undefined while one runs). */
  lastExit(): number | undefined {
    return this.exitedAt;
  }

  /** The last `lines` lines of the log, each cut to `width` characters, for a failed assertion's message. */
  tail(lines = 30, width = 400): string {
    if (!existsSync(this.spec.logFile)) return `(no log at ${this.spec.logFile})`;
    const all = readFileSync(this.spec.logFile, 'utf8').trimEnd().split('\n');
    return all
      .slice(-lines)
      .map((l) => (l.length > width ? `${l.slice(0, width)}…` : l))
      .join('\n');
  }

  /** Closes the log once the process is gone. */
  async dispose(): Promise<void> {
    await this.kill();
    await new Promise<void>((resolve) => (this.log ? this.log.end(() => resolve()) : resolve()));
    this.log = undefined;
  }
}
