import type * as tf from '@tensorflow/tfjs';
import { NotFoundError, TransientError } from '@mlpipe/common';
import { ARTEFACTS } from '@mlpipe/contracts';
import { loadModelFromBytes } from '@mlpipe/ml';
import type { ModelSelector } from '../core/modelSelector';

export interface LoadedModel {
  name: string;
  version: number;
  testAccuracy: number;
  model: tf.LayersModel;
}

/**
 * Registered models loaded from the registry's API (version records and artefacts), a bounded
 * number kept in memory (least recently used goes first). Aliases are resolved on every request
 * from a small map that `invalidate()` clears when the registry announces an alias move.
 */
export class ModelCache {
  private readonly loaded = new Map<string, Promise<LoadedModel>>();
  private readonly aliases = new Map<string, number>();

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
    for (const key of [...this.aliases.keys()]) if (key.startsWith(`${name}@`)) this.aliases.delete(key);
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
    const record = (await this.fetchJson(`/models/${name}/aliases/${alias}`)) as { version: number };
    this.aliases.set(key, record.version);
    return record.version;
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
