import { PIXELS } from '@mlpipe/dataset';
import { mnistSamples } from '@mlpipe/testing';

/** What a load run saw: every request's outcome, and when each replica answered (the edge names it). */
export interface LoadReport {
  sent: number;
  failed: { at: number; status: number | string }[];
  /** Replica URL → times it answered. */
  answeredBy: Map<string, number[]>;
}

/**
 * Closed-loop clients posting /predict (a real MNIST digit each) to the edge until stop() is called.
 * The edge retries a request once on another replica, so with one replica down no request may fail.
 */
export function startLoad(edgeUrl: string, clients = 4): { report: LoadReport; stop(): Promise<LoadReport> } {
  const digits = mnistSamples('t10k', 64);
  const report: LoadReport = { sent: 0, failed: [], answeredBy: new Map() };
  let running = true;
  const client = async (offset: number) => {
    for (let i = offset; running; i += clients) {
      const n = i % digits.count;
      const body = JSON.stringify({ pixels: Array.from(digits.images.subarray(n * PIXELS, (n + 1) * PIXELS)), range: 'byte' });
      report.sent++;
      try {
        const res = await fetch(`${edgeUrl}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        const replica = res.headers.get('x-mlpipe-replica') ?? '?';
        if (res.status !== 200) report.failed.push({ at: Date.now(), status: res.status });
        else report.answeredBy.set(replica, [...(report.answeredBy.get(replica) ?? []), Date.now()]);
      } catch (err) {
        report.failed.push({ at: Date.now(), status: err instanceof Error ? err.name : String(err) });
      }
    }
  };
  const loops = Array.from({ length: clients }, (_, i) => client(i));
  return {
    report,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return report;
    },
  };
}
