import { ConfigError, describeError, isTransient, TransientError, type Logger } from '@mlpipe/common';

/** A client start-up makes (a NATS connection, a pg pool, a ready store). */
export interface Dependency<T> {
  /** What it is, as a person reads it in the log: "NATS", "PostgreSQL". */
  name: string;
  connect: () => Promise<T>;
  /** Closes a client whose connect finished after start-up stopped waiting for it (budget spent, stop requested). */
  release?: (client: T) => Promise<unknown> | unknown;
}

/** One start-up's budget, shared by every dependency it waits for. */
export interface StartupWait {
  /** STARTUP_WAIT_MS: how long the dependencies together may take to become reachable. */
  budgetMs: number;
  /** Date.now() at which start-up gives up. */
  giveUpAt: number;
  logger: Logger;
  /** Aborted when the process is asked to stop: the wait ends at once. */
  signal: AbortSignal;
  /** Longest pause between tries; the pauses double from 500 ms up to it (default 5 s). */
  maxDelayMs?: number;
}

/** Starts the budget now. */
export function startupWait(budgetMs: number, logger: Logger, signal: AbortSignal): StartupWait {
  return { budgetMs, giveUpAt: Date.now() + budgetMs, logger, signal };
}

/**
 * Our clients wrap whatever their connect throws in a TransientError (libs/bus, libs/db), a wrong
 * password and a bad URL included; past those wrappers is what actually went wrong.
 */
function rootCause(err: unknown): unknown {
  let e = err;
  for (let depth = 0; e instanceof TransientError && e.cause !== undefined && depth < 8; depth++) e = e.cause;
  return e;
}

/**
 * Whether start-up should wait a failure out: the dependency is not there yet (refused, reset,
 * timed out, a name not resolvable yet, a server starting up). A setting that is wrong (a bad URL,
 * a rejected password or role, missing rights) cannot heal by waiting, so it stops the process at once.
 */
export function worthWaitingFor(err: unknown): boolean {
  return isTransient(err) && isTransient(rootCause(err));
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/** The wrapper's message, and the root cause's when it says something the wrapper does not. */
function reasonOf(err: unknown): string {
  const outer = describeError(err);
  const inner = describeError(rootCause(err));
  return inner === outer || outer.includes(inner) ? outer : `${outer} (${inner})`;
}

/**
 * Connects one dependency, trying again while it is unreachable (see worthWaitingFor) until the
 * start-up budget is spent, one log line per failed try: a service started before NATS, PostgreSQL
 * or the store (a cluster coming up, a restart during an outage) waits instead of crash-looping.
 * A try is cut short when the budget runs out (given a second at least), so start-up gives up on
 * time even against a host that never answers. Throws a permanent failure as a ConfigError naming
 * its root cause, or a TransientError that says how long it waited.
 */
export async function waitForDependency<T>(dep: Dependency<T>, wait: StartupWait): Promise<T> {
  const maxDelayMs = wait.maxDelayMs ?? 5000;
  for (let attempt = 1; ; attempt++) {
    if (wait.signal.aborted) throw new Error(`stopped while waiting for ${dep.name}`);
    let failure: unknown;
    try {
      return await tryOnce(dep, wait);
    } catch (err) {
      failure = err;
    }
    if (wait.signal.aborted) throw new Error(`stopped while waiting for ${dep.name}`, { cause: failure });
    // The root cause goes into the message: "cannot reach PostgreSQL" alone hides a role that does not exist.
    if (!worthWaitingFor(failure)) throw new ConfigError(reasonOf(failure), { cause: failure });
    if (wait.budgetMs === 0) throw failure;
    const left = wait.giveUpAt - Date.now();
    if (left <= 0) {
      throw new TransientError(`gave up waiting for ${dep.name} after ${seconds(wait.budgetMs)} (STARTUP_WAIT_MS=${wait.budgetMs}): ${reasonOf(failure)}`, { cause: failure });
    }
    const pauseMs = Math.min(maxDelayMs, 500 * 2 ** (attempt - 1), left);
    wait.logger.warn(
      { dependency: dep.name, attempt, nextTryMs: pauseMs, leftMs: left },
      `${dep.name} unreachable: ${reasonOf(failure)}; next try in ${seconds(pauseMs)} (try ${attempt}, giving up in ${seconds(left)})`,
    );
    await pause(pauseMs, wait.signal);
  }
}

/** The least time a try gets, so the last one, started as the budget runs out, can still succeed. */
const MIN_TRY_MS = 1000;

/** One connect, bounded by what is left of the budget (but MIN_TRY_MS at least) and by a stop request. */
async function tryOnce<T>(dep: Dependency<T>, wait: StartupWait): Promise<T> {
  const left = wait.giveUpAt - Date.now();
  const attempt = dep.connect();
  // With no budget (STARTUP_WAIT_MS=0) the one try runs to its own timeout.
  if (wait.budgetMs === 0) return attempt;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const cut = new Promise<never>((_, reject) => {
    const boundMs = Math.max(left, MIN_TRY_MS);
    timer = setTimeout(() => reject(new TransientError(`${dep.name} did not answer within ${seconds(boundMs)}`)), boundMs);
    onAbort = () => reject(new Error(`stopped while connecting to ${dep.name}`));
    wait.signal.addEventListener('abort', onAbort, { once: true });
    if (wait.signal.aborted) onAbort();
  });
  try {
    return await Promise.race([attempt, cut]);
  } catch (err) {
    // A connect still in flight may finish later: close what it opens, nobody will use it.
    attempt.then((client) => dep.release?.(client), () => undefined).catch(() => undefined);
    throw err;
  } finally {
    clearTimeout(timer);
    if (onAbort) wait.signal.removeEventListener('abort', onAbort);
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
