import { describe } from 'vitest';
import { hostsUnavailable } from './hosts';

/**
 * A multihost scenario file's describe: skipped, with the reason printed, where this process may not
 * create network namespaces (not root, no iproute2); with CI=true the same reason fails the run
 * instead, so CI (which runs as root) never passes without having run the scenarios.
 */
export function describeMultihost(name: string, body: () => void): void {
  const reason = hostsUnavailable();
  if (!reason) {
    describe(name, body);
    return;
  }
  if (process.env.CI === 'true') throw new Error(`multihost tests cannot run: ${reason}`);
  console.warn(`[multihost] skipped "${name}": ${reason}`);
  describe.skip(name, body);
}
