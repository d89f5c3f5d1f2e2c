import type { ConnectionWatch } from '@mlpipe/bus';

/**
 * A clock that stands still while this process cannot reach NATS. The group's timeouts (silent
 * members, late gradients, a quiet coordinator) run on it: nothing can arrive during an outage,
 * so an outage must not count as silence. `outageMs()` says how long the current one has lasted,
 * for the tolerance past which an attempt ends.
 */
export class LinkClock {
  private downTotal = 0;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly reconnected = new Set<() => void>();

  constructor(private readonly watch: ConnectionWatch) {
    this.unsubscribe.push(
      watch.onReconnect((downMs) => {
        this.downTotal += downMs;
        for (const l of [...this.reconnected]) l();
      }),
    );
  }

  now(): number {
    const since = this.watch.downSince();
    return Date.now() - this.downTotal - (since === undefined ? 0 : Date.now() - since);
  }

  outageMs(): number {
    const since = this.watch.downSince();
    return since === undefined ? 0 : Date.now() - since;
  }

  connected(): boolean {
    return this.watch.connected();
  }

  /** Called after each reconnect (after the clock has caught up). */
  onReconnect(listener: () => void): () => void {
    this.reconnected.add(listener);
    return () => this.reconnected.delete(listener);
  }

  close(): void {
    for (const u of this.unsubscribe) u();
    this.reconnected.clear();
  }
}
