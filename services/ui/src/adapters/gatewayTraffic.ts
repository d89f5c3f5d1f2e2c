import { VariantTotalsSchema } from '@mlpipe/contracts';
import { trafficBehindEdge, variantSharesOf, type TrafficView } from '../core/variantShares';

/**
 * A model's live traffic view from the gateway GATEWAY_URL names. An edge answers GET
 * /metrics/variants with its replicas' counters summed (the counters live on the replicas); a
 * model replica has no such route (404) and its own /metrics holds all it answered. Whatever
 * fails is said in `reason`, never thrown: the page shows the rest of the model without it.
 */
export async function readGatewayTraffic(gatewayUrl: string, model: string, timeoutMs = 5000): Promise<TrafficView> {
  const origin = new URL(gatewayUrl).origin;
  const get = (path: string) => fetch(`${gatewayUrl}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
  try {
    const edge = await get('/metrics/variants');
    if (edge.ok) {
      const totals = VariantTotalsSchema.safeParse(await edge.json().catch(() => undefined));
      return totals.success ? trafficBehindEdge(totals.data, model) : { available: false, reason: `the gateway's /metrics/variants answered something other than variant totals` };
    }
    if (edge.status !== 404) return { available: false, reason: `the gateway's /metrics/variants answered ${edge.status}` };
    const replica = await get('/metrics');
    if (!replica.ok) return { available: false, reason: `the gateway's /metrics answered ${replica.status}` };
    return { available: true, replicas: [origin], missing: [], ...variantSharesOf(await replica.text(), model) };
  } catch {
    return { available: false, reason: `the gateway at ${origin} did not answer` };
  }
}
