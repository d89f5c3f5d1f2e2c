/** Which registered version answers a request that names only the model. */
export type Variant = 'champion' | 'challenger';

export interface TrafficPolicy {
  /** Share of such requests the challenger answers (canary), 0..1. */
  canaryShare: number;
  /** The challenger also scores every champion-answered request; its answer is logged, not returned. */
  shadow: boolean;
}

export const NO_CANARY: TrafficPolicy = { canaryShare: 0, shadow: false };

/** `draw` is uniform in [0, 1): below the canary share the challenger serves, else the champion (with its shadow). */
export function routeRequest(policy: TrafficPolicy, draw: number): { serve: Variant; shadow: Variant | null } {
  if (policy.canaryShare > 0 && draw < policy.canaryShare) return { serve: 'challenger', shadow: null };
  return { serve: 'champion', shadow: policy.shadow ? 'challenger' : null };
}
