import type * as tf from '@tensorflow/tfjs';
import { NotFoundError, TransientError } from '@mlpipe/common';
import { ARTEFACTS } from '@mlpipe/contracts';
import { loadModelFromBytes } from '@mlpipe/ml';
import type { ModelSelector } from '../core/modelSelector';

/** An alias resolution the cache holds, with the model's epoch when it was read (see `moveAlias`). */
export interface HeldAlias {
  name: string;
  alias: string;
  version: number;
  epoch: number;
}

export interface LoadedModel {
  name: string;
  version: number;
  testAccuracy: number;
  model: tf.LayersModel;
}

/**
 * Registered models loaded from the registry's API (version records and artefacts), a bounded
 * number kept in memory (least recently used goes first). Aliases are resolved on every request
 * from a small map that `invalidate()` clears when the registry announces an alias move, and that
 * a refresh (`heldAliases` → `readAlias` → `moveAlias`) brings in line with the registry when an
 * announcement was missed.
 */
export class ModelCache {
  private readonly loaded = new Map<string, Promise<LoadedModel>>();
  private readonly aliases = new Map<string, number>();
  /**
   * Bumped per model by every invalidation: a read that started before one must not write its
   * (possibly older) answer back over it, whether a request's or a refresh's.
   */
  private readonly epochs = new Map<string, number>();

  constructor(
    private readonly registryUrl: string,
    private readonly capacity = 4,
    private readonly onLoad?: (name: string, version: number, seconds: number) => void,
  ) {}

  async get(sel: ModelSelector): Promise<LoadedModel> {
    const version = 'version' in sel ? sel.version : await this.resolveAlias(sel.name, sel.alias);
    const key = `${sel.name}/${version}`;
    let entry = this.loaded.get(key);
    if (entry) {
      this.loaded.delete(key); // re-insert: most recently used last
    } else {
      entry = this.load(sel.name, version);
      entry.catch(() => this.loaded.delete(key));
    }
    this.loaded.set(key, entry);
    while (this.loaded.size > this.capacity) {
      const [oldest, evicted] = this.loaded.entries().next().value as [string, Promise<LoadedModel>];
      this.loaded.delete(oldest);
      void evicted.then((m) => m.model.dispose(), () => undefined);
    }
    return entry;
  }

  /** Forget alias resolutions of a model (called on model.alias.changed). */
  invalidate(name: string): void {
    this.epochs.set(name, this.epochOf(name) + 1);
    for (const key of [...this.aliases.keys()]) if (key.startsWith(`${name}@`)) this.aliases.delete(key);
  }

  /** The alias resolutions requests are being answered by now. */
  heldAliases(): HeldAlias[] {
    return [...this.aliases].map(([key, version]) => {
      const [name, alias] = key.split('@') as [string, string];
      return { name, alias, version, epoch: this.epochOf(name) };
    });
  }

  /** The registry's answer for an alias now, past the held one (NotFoundError: it has none; TransientError: no answer). */
  async readAlias(name: string, alias: string): Promise<number> {
    const record = (await this.fetchJson(`/models/${name}/aliases/${alias}`)) as { version: number };
    return record.version;
  }

  /**
   * Points a held alias at another version once that version is loaded, so requests switch from one
   * working model to the next and a failed load (it throws) leaves the old one serving. False when
   * an alias event or a request got there first: theirs is the newer answer.
   */
  async moveAlias(held: HeldAlias, version: number): Promise<boolean> {
    await this.get({ name: held.name, version });
    if (!this.stillHeld(held)) return false;
    this.aliases.set(`${held.name}@${held.alias}`, version);
    return true;
  }

  /** Forgets a held alias the registry no longer has; the next request resolves it as a first one would. */
  dropAlias(held: HeldAlias): boolean {
    if (!this.stillHeld(held)) return false;
    this.aliases.delete(`${held.name}@${held.alias}`);
    return true;
  }

  async versions(name: string): Promise<{ version: number; aliases: string[]; testAccuracy: number }[]> {
    const model = (await this.fetchJson(`/models/${name}`)) as { versionList: { version: number; aliases: string[]; testAccuracy: number }[] };
    return model.versionList.map((v) => ({ version: v.version, aliases: v.aliases, testAccuracy: v.testAccuracy }));
  }

  /** Every registered model with its versions, aliases and test accuracy. */
  async listModels(): Promise<{ models: { name: string; aliases: Record<string, number>; versions: { version: number; aliases: string[]; testAccuracy: number }[] }[] }> {
    const { models } = (await this.fetchJson('/models')) as { models: { name: string; aliases: Record<string, number> }[] };
    return { models: await Promise.all(models.map(async (m) => ({ name: m.name, aliases: m.aliases, versions: await this.versions(m.name) }))) };
  }

  private async resolveAlias(name: string, alias: string): Promise<number> {
    const key = `${name}@${alias}`;
    const cached = this.aliases.get(key);
    if (cached !== undefined) return cached;
    const epoch = this.epochOf(name);
    const version = await this.readAlias(name, alias);
    // An alias event during the read may mean this answer is already old: serve it once, do not keep it.
    if (this.epochOf(name) === epoch) this.aliases.set(key, version);
    return version;
  }

  private epochOf(name: string): number {
    return this.epochs.get(name) ?? 0;
  }

  private stillHeld(held: HeldAlias): boolean {
    return this.epochOf(held.name) === held.epoch && this.aliases.get(`${held.name}@${held.alias}`) === held.version;
  }

  private async load(name: string, version: number): Promise<LoadedModel> {
    const started = performance.now();
    const record = (await this.fetchJson(`/models/${name}/versions/${version}`)) as { testAccuracy: number };
    const [modelJson, weights] = await Promise.all([
      this.fetchBytes(`/models/${name}/versions/${version}/artefacts/${ARTEFACTS.modelJson.file}`),
      this.fetchBytes(`/models/${name}/versions/${version}/artefacts/${ARTEFACTS.weights.file}`),
    ]);
    const model = await loadModelFromBytes({ modelJson, weights });
    this.onLoad?.(name, version, (performance.now() - started) / 1000);
    return { name, version, testAccuracy: record.testAccuracy, model };
  }

  private async fetchJson(path: string): Promise<unknown> {
    return JSON.parse(new TextDecoder().decode(await this.fetchBytes(path)));
  }

  private async fetchBytes(path: string): Promise<Uint8Array> {
    let res: Response;
    try {
      res = await fetch(`${this.registryUrl}${path}`, { signal: AbortSignal.timeout(10_000) });
    } catch (cause) {
      throw new TransientError(`the registry at ${this.registryUrl} did not answer`, { cause });
    }
    if (res.status === 404) {
      const body = (await res.json().catch(() => ({}))) as { error?: string };
      throw new NotFoundError(body.error ?? `not found: ${path}`);
    }
    if (!res.ok) throw new TransientError(`the registry answered ${res.status} for ${path}`);
    return new Uint8Array(await res.arrayBuffer());
  }
}
