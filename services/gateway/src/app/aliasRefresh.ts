import { describeError, NotFoundError, type Logger } from '@mlpipe/common';
import { decideAliasRefresh, type AliasDecision, type AliasRead } from '../core/aliasRefresh';
import type { HeldAlias, ModelCache } from '../adapters/modelCache';

/** Why a refresh ran: the connection came back, or the alias TTL passed. */
export type RefreshTrigger = 'reconnect' | 'ttl';

/** What one held alias came to in a refresh, or after an alias event. */
export type RefreshOutcome = 'unchanged' | 'moved' | 'dropped' | 'failed';

export interface AliasRefreshOptions {
  models: Pick<ModelCache, 'heldAliases' | 'readAlias' | 'moveAlias' | 'keepAlias' | 'dropAlias' | 'aliasChanged' | 'switchAlias'>;
  logger: Logger;
  /** Every held alias is read again this often, event or not. */
  ttlMs: number;
  /** Called once per held alias per refresh, and once per alias event (metrics). */
  onOutcome?: (trigger: RefreshTrigger | 'event', outcome: RefreshOutcome) => void;
}

/**
 * Keeps the gateway's alias resolutions in line with the registry. An alias event (`follow`) names
 * the new version: it is loaded, then served. When `model.alias.changed` was missed (the live
 * subscription hears nothing published while the connection is down, and an event can be lost in
 * other ways too), every held alias is read again after each reconnect and every `ttlMs`, and a
 * difference is applied the same way. A failed read or load keeps what is served and is tried again
 * at the next tick, an event's version included when the registry cannot be asked then.
 */
export class AliasRefresh {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** A trigger that arrived during a round: one more round follows, so a read after it is never skipped. */
  private again: RefreshTrigger | undefined;
  private stopped = false;

  constructor(private readonly o: AliasRefreshOptions) {}

  start(): void {
    this.schedule();
  }

  /** Reads every held alias again now (after the round in progress, if any); resolves when done, never rejects. */
  refresh(trigger: RefreshTrigger): Promise<void> {
    if (this.running) {
      this.again = trigger;
      return this.running;
    }
    clearTimeout(this.timer);
    this.running = (async () => {
      for (let next: RefreshTrigger | undefined = trigger; next && !this.stopped; next = this.again) {
        this.again = undefined;
        await this.round(next).catch((err: unknown) => this.o.logger.error({ trigger: next, err: describeError(err) }, 'alias refresh failed; trying again at the next tick'));
      }
    })().finally(() => {
      this.running = undefined;
      this.schedule();
    });
    return this.running;
  }

  /**
   * A model.alias.changed event: the version it names is loaded (from the store directly if the
   * registry cannot be reached), then served. Until then, and if it will not load, the version in
   * hand keeps answering; never rejects.
   */
  async follow(change: { modelName: string; alias: string; version: number }): Promise<void> {
    const sw = this.o.models.aliasChanged(change.modelName, change.alias, change.version);
    if (!sw) return this.o.onOutcome?.('event', 'unchanged');
    const log = { alias: `${sw.name}@${sw.alias}`, trigger: 'event', from: sw.from, to: sw.version };
    try {
      const moved = await this.o.models.switchAlias(sw);
      // Not moved: a newer event or registry read spoke for the alias while this version loaded.
      if (moved) this.o.logger.info(log, `alias event: serving v${sw.version}, was v${sw.from}`);
      this.o.onOutcome?.('event', moved ? 'moved' : 'unchanged');
    } catch (err) {
      this.o.logger.warn({ ...log, err: describeError(err) }, `alias event: could not load v${sw.version}; still serving v${sw.from}, tried again at the next refresh (${this.o.ttlMs} ms)`);
      this.o.onOutcome?.('event', 'failed');
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.refresh('ttl'), this.o.ttlMs);
    this.timer.unref();
  }

  private async round(trigger: RefreshTrigger): Promise<void> {
    await Promise.all(this.o.models.heldAliases().map((held) => this.refreshOne(trigger, held)));
  }

  private async refreshOne(trigger: RefreshTrigger, held: HeldAlias): Promise<void> {
    const decision = decideAliasRefresh(held.version, await this.read(held), held.wanted);
    const outcome = await this.apply(held, decision);
    const log = { alias: `${held.name}@${held.alias}`, trigger, from: held.version };
    if (outcome === 'moved' || outcome === 'dropped') this.o.logger.info(log, `alias refresh: ${decision.reason}`);
    this.o.onOutcome?.(trigger, outcome);
  }

  /** Does what the decision says; false from the cache means an alias event got there first (its answer stands). */
  private async apply(held: HeldAlias, decision: AliasDecision): Promise<RefreshOutcome> {
    const log = { alias: `${held.name}@${held.alias}`, from: held.version };
    switch (decision.action) {
      case 'keep':
        if (held.wanted !== undefined) this.o.models.keepAlias(held);
        return 'unchanged';
      case 'retry':
        this.o.logger.warn(log, `alias refresh: ${decision.reason}`);
        return 'failed';
      case 'drop':
        return this.o.models.dropAlias(held) ? 'dropped' : 'unchanged';
      case 'move':
        try {
          return (await this.o.models.moveAlias(held, decision.to)) ? 'moved' : 'unchanged';
        } catch (err) {
          // The new version would not load: the held one keeps answering, and the next tick tries again.
          this.o.logger.warn({ ...log, to: decision.to, err: describeError(err) }, `alias refresh: could not load v${decision.to}; still serving v${held.version}`);
          return 'failed';
        }
    }
  }

  private async read(held: HeldAlias): Promise<AliasRead> {
    try {
      return { kind: 'version', version: await this.o.models.readAlias(held.name, held.alias) };
    } catch (err) {
      return err instanceof NotFoundError ? { kind: 'absent' } : { kind: 'failed', reason: describeError(err) };
    }
  }
}
