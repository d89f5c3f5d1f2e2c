/** What the replicas' batchers did during a row, from their /metrics: requests' mean wait for a model call, and images per call. */
export interface BatchStats {
  meanQueueMs: number;
  meanBatchImages: number;
}

interface Totals {
  queueSeconds: number;
  queued: number;
  images: number;
  calls: number;
}

/** The sum of a metric's samples over every label set, in Prometheus' text format. */
function total(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  }
  return sum;
}

export async function batchTotals(replicaUrls: string[]): Promise<Totals> {
  const texts = await Promise.all(replicaUrls.map((u) => fetch(`${u}/metrics`).then((r) => r.text(), () => '')));
  const of = (name: string) => texts.reduce((n, t) => n + total(t, name), 0);
  return {
    queueSeconds: of('mlpipe_inference_queue_seconds_sum'),
    queued: of('mlpipe_inference_queue_seconds_count'),
    images: of('mlpipe_inference_batch_size_sum'),
    calls: of('mlpipe_inference_batch_size_count'),
  };
}

export function batchStats(before: Totals, after: Totals): BatchStats {
  const queued = after.queued - before.queued;
  const calls = after.calls - before.calls;
  return {
    meanQueueMs: queued > 0 ? ((after.queueSeconds - before.queueSeconds) / queued) * 1000 : Number.NaN,
    meanBatchImages: calls > 0 ? (after.images - before.images) / calls : Number.NaN,
  };
}
