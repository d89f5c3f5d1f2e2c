import { parseSelector, type ModelSelector } from './modelSelector';
import { NO_CANARY, routeRequest, type TrafficPolicy } from './traffic';

/** Which kind of choice answered a request: the traffic split, a pinned version, or the caller's own. */
export type ServedVariant = 'champion' | 'challenger' | 'pinned' | 'named';

/** How a request is answered: the selector, what kind of choice it was, and who shadows it. */
export interface Route {
  selector: ModelSelector;
  variant: ServedVariant;
  shadow: ModelSelector | null;
}

export interface RoutingOptions {
  /** A pinned version served when a request names only the model (MODEL_VERSION); else the champion. */
  pinnedVersion?: number | undefined;
  /** Champion/challenger split for requests that name only the model (ignored when a version is pinned). */
  traffic?: TrafficPolicy | undefined;
  /** Uniform [0,1) draws for the canary split (tests pass a seeded one). */
  random?: (() => number) | undefined;
}

/** The champion, unshadowed: where a canary draw goes when no challenger is registered. */
export const championRoute = (name: string): Route => ({ selector: { name, alias: 'champion' }, variant: 'champion', shadow: null });

/**
 * The routing policy: what a request means by the model it names. Naming a version or an alias is
 * the caller's choice; naming only the model is the pinned version, else the traffic split.
 */
export class Routing {
  private readonly traffic: TrafficPolicy;
  private readonly draw: () => number;

  constructor(private readonly o: RoutingOptions = {}) {
    this.traffic = o.traffic ?? NO_CANARY;
    this.draw = o.random ?? Math.random;
  }

  /** What "this model" means when no version or alias is named and no split applies (readiness). */
  byName(name: string): ModelSelector {
    return this.o.pinnedVersion ? { name, version: this.o.pinnedVersion } : { name, alias: 'champion' };
  }

  /** A request naming only the model: the pinned version, else champion or challenger by the traffic policy. */
  forName(name: string): Route {
    if (this.o.pinnedVersion) return { selector: { name, version: this.o.pinnedVersion }, variant: 'pinned', shadow: null };
    const r = routeRequest(this.traffic, this.draw());
    return { selector: { name, alias: r.serve }, variant: r.serve, shadow: r.shadow ? { name, alias: r.shadow } : null };
  }

  /** A request naming exactly this version. */
  forVersion(name: string, version: number): Route {
    return { selector: { name, version }, variant: 'named', shadow: null };
  }

  /** A selector as text ("mnist", "mnist@challenger", "mnist/3"): named when it says more than the model. */
  forSelector(text: string): Route {
    const selector = parseSelector(text);
    return text.includes('@') || text.includes('/') ? { selector, variant: 'named', shadow: null } : this.forName(selector.name);
  }
}
