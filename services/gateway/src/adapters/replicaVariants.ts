import { variantCountsOf } from '@mlpipe/contracts';
import type { ReplicaCounts } from '../core/variantTotals';

/**
 * Asks every replica for its /metrics at once and reads its variant counters. Each has `timeoutMs`
 * to answer in full; one that does not (down, slow, not a replica) is reported with the reason
 * instead of failing the whole view. fetch, not the pool's kept-alive client: this runs once per
 * page view, not per request, and must not disturb the rotation's health marks.
 */
export async function readReplicaCounts(replicaUrls: readonly string[], timeoutMs: number): Promise<ReplicaCounts[]> {
  return Promise.all(
    replicaUrls.map(async (replica): Promise<ReplicaCounts> => {
      try {
        const res = await fetch(`${replica}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
        if (!res.ok) return { replica, reason: `its /metrics answered ${res.status}` };
        return { replica, counts: variantCountsOf(await res.text()) };
      } catch (err) {
        const name = (err as Error).name;
        return { replica, reason: name === 'TimeoutError' || name === 'AbortError' ? `no answer within ${timeoutMs} ms` : 'unreachable' };
      }
    }),
  );
}
