/**
 * Polls `probe` until it returns something other than undefined (or false), for tests and scripts
 * that wait on asynchronous systems. Fails after `timeoutMs` saying what it waited for. A probe
 * that is costly (reading a whole stream) asks for a longer `intervalMs` between tries.
 */
export async function eventually<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  what = 'the condition',
  intervalMs = 50,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
