import { z } from 'zod';
import { describeError, MlpipeError, NotFoundError, TransientError } from '@mlpipe/common';
import { ARTEFACTS, artefactPrefixProblem, storeKeys } from '@mlpipe/contracts';
import { getModelFiles, type ModelArtifacts } from '@mlpipe/ml';
import type { ObjectStore } from '@mlpipe/storage';
import type { ModelSelector } from '../core/modelSelector';
import { loadServedVersion, type ReplicaRuntime, type ServedVersion } from './servedModel';

/** An alias resolution the cache holds, with the model's epoch when it was read (see `moveAlias`). */
export interface HeldAlias {
  name: string;
  alias: string;
  version: number;
  epoch: number;
  /** The newest word (an alias event, a registry read) naming another version, not served yet: its load failed or runs. */
  wanted?: number;
}

/** Where a version's files are and how it scored: from its registration event or its record in the registry. */
export const VersionPlaceSchema = z.object({ artefactPrefix: z.string().min(1), testAccuracy: z.number().min(0).max(1) });
export type VersionPlace = z.infer<typeof VersionPlaceSchema>;

/** What an alias event asks for (see `aliasChanged`): serve `version` once it is loaded, unless a newer word came. */
export interface AliasSwitch {
  name: string;
  alias: string;
  version: number;
  /** The version serving meanwhile. */
  from: number;
  readonly token: object;
}

export interface ModelCacheOptions {
  registryUrl: string;
  /** Sent as a bearer token to the registry (needed where it runs with AUTH_ANONYMOUS_ROLE=none). */
  registryToken?: string | undefined;
  /** Versions kept loaded (least recently used goes first; a version an alias serves never does). */
  capacity?: number;
  /** A version is loaded and serving (its runtime, and why tfjs if it fell back), after `seconds`. */
  onLoad?: (loaded: LoadedModel, seconds: number) => void;
  /** A loaded version was dropped from the cache. */
  onUnload?: (loaded: LoadedModel) => void;
  /** GATEWAY_RUNTIME as the replica resolved it (core/runtime); tfjs without it. */
  runtime?: ReplicaRuntime | undefined;
  /** The store the registry keeps artefacts in: read directly when the registry cannot be reached. */
  store?: ObjectStore | undefined;
}

/** Versions whose place is remembered (a few bytes each); the oldest are forgotten first. */
const MAX_PLACES = 1000;

/** A registered version in memory: who it is, and how it answers (tfjs or onnxruntime-node, see ServedVersion). */
export interface LoadedModel extends ServedVersion {
  name: string;
  version: number;
  testAccuracy: number;
}

/**
 * Registered models loaded from the registry's API (version records and artefacts; the store
 * directly when the registry cannot be reached), a bounded number kept in memory (least recently
 * used goes first). Aliases are resolved on every request from a small map. An alias event
 * (`aliasChanged` → `switchAlias`) and a refresh that finds a missed one (`heldAliases` →
 * `readAlias` → `moveAlias`) both load the new version first and switch to it only once it loaded,
 * so a working model is never given up for one that cannot be loaded.
 */
export class ModelCache {
  private readonly loaded = new Map<string, Promise<LoadedModel>>();
  private readonly aliases = new Map<string, number>();
  /**
   * Bumped per model by every alias event: a read that started before one must not write its
   * (possibly older) answer back over it, whether a request's or a refresh's.
   */
  private readonly epochs = new Map<string, number>();
  /** Per held alias, the newest word naming a version it does not serve yet (see HeldAlias.wanted). */
  private readonly wanted = new Map<string, { version: number }>();
  private readonly places = new Map<string, VersionPlace>();
  private readonly registryUrl: string;
  private readonly capacity: number;

  constructor(private readonly o: ModelCacheOptions) {
    this.registryUrl = o.registryUrl.replace(/\/$/, '');
    this.capacity = o.capacity ?? 4;
  }

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
    this.evict(key);
    return entry;
  }

  /**
   * Least recently used first, but never a version an alias serves: loading the next version (which
   * may fail) must not unload the one answering now. So the cache may hold more than its capacity
   * while a switch is under way. Nor the one just asked for, of course.
   */
  private evict(asked: string): void {
    const serving = new Set([...this.aliases].map(([key, version]) => `${key.split('@')[0]}/${version}`));
    for (const [key, entry] of this.loaded) {
      if (this.loaded.size <= this.capacity) return;
      if (serving.has(key) || key === asked) continue;
      this.loaded.delete(key);
      void entry.then(
        (m) => {
          m.dispose();
          this.o.onUnload?.(m);
        },
        () => undefined,
      );
    }
  }

  /** Remembers where a version's files are (its model.version.registered event, its record), so it loads without asking the registry. */
  learnVersion(name: string, version: number, place: VersionPlace): void {
    // A place outside the model's folder is never remembered, so never read from the store. (Events
    // are checked before they get here; a registry record like it is the server's fault, not the caller's: a 500.)
    const problem = artefactPrefixProblem(place.artefactPrefix, { kind: 'model', modelName: name });
    if (problem) throw new MlpipeError('foreign_artefacts', `${name} v${version}: ${problem}`);
    const key = `${name}/${version}`;
    this.places.delete(key);
    this.places.set(key, VersionPlaceSchema.parse(place));
    for (const oldest of this.places.keys()) {
      if (this.places.size <= MAX_PLACES) break;
      this.places.delete(oldest);
    }
  }

  /**
   * A model.alias.changed event. Every earlier read of the model is fenced off (its answer may be
   * older than this). A held alias that serves another version gets a switch to make (`switchAlias`);
   * undefined when there is none: it serves that version already, or nobody asked for the alias yet
   * (the first request resolves it, as always).
   */
  aliasChanged(name: string, alias: string, version: number): AliasSwitch | undefined {
    this.epochs.set(name, this.epochOf(name) + 1);
    const key = `${name}@${alias}`;
    const from = this.aliases.get(key);
    if (from === undefined || from === version) {
      this.wanted.delete(key);
      return undefined;
    }
    const token = { version };
    this.wanted.set(key, token);
    return { name, alias, version, from, token };
  }

  /**
   * Loads the event's version, then serves it, unless a newer event or a newer registry read has
   * spoken for the alias meanwhile (false). A failed load throws and leaves the old version serving,
   * with the event's version still wanted, so the refresh tries it again.
   */
  async switchAlias(sw: AliasSwitch): Promise<boolean> {
    await this.get({ name: sw.name, version: sw.version });
    const key = `${sw.name}@${sw.alias}`;
    if (this.wanted.get(key) !== sw.token) return false;
    this.aliases.set(key, sw.version);
    this.wanted.delete(key);
    return true;
  }

  /** The alias resolutions requests are being answered by now, with the version each is waiting to switch to. */
  heldAliases(): HeldAlias[] {
    return [...this.aliases].map(([key, version]) => {
      const [name, alias] = key.split('@') as [string, string];
      const wanted = this.wanted.get(key)?.version;
      return { name, alias, version, epoch: this.epochOf(name), ...(wanted === undefined ? {} : { wanted }) };
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
    const key = `${held.name}@${held.alias}`;
    // Until it is served, this is the newest word for the alias (a pending event's switch gives way to it).
    if (this.stillHeld(held)) this.wanted.set(key, { version });
    await this.get({ name: held.name, version });
    if (!this.stillHeld(held)) return false;
    this.aliases.set(key, version);
    this.wanted.delete(key);
    return true;
  }

  /** The registry confirms the version served: a version an older event named is no longer wanted. */
  keepAlias(held: HeldAlias): boolean {
    if (!this.stillHeld(held)) return false;
    this.wanted.delete(`${held.name}@${held.alias}`);
    return true;
  }

  /** Forgets a held alias the registry no longer has; the next request resolves it as a first one would. */
  dropAlias(held: HeldAlias): boolean {
    if (!this.stillHeld(held)) return false;
    this.aliases.delete(`${held.name}@${held.alias}`);
    this.wanted.delete(`${held.name}@${held.alias}`);
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
    const place = await this.placeOf(name, version);
    const files = { tfjs: () => this.files(name, version, place), onnx: () => this.onnxFile(name, version, place) };
    const served = await loadServedVersion(files, this.o.runtime ?? { runtime: 'tfjs' });
    const loaded: LoadedModel = { ...served, name, version, testAccuracy: place.testAccuracy };
    this.o.onLoad?.(loaded, (performance.now() - started) / 1000);
    return loaded;
  }

  /**
   * model.onnx as the tfjs files are read: through the registry (whose 404 says why a version has
   * none), else from the store, where a missing file is as final (NotFoundError) as the registry's word.
   */
  private async onnxFile(name: string, version: number, place: VersionPlace): Promise<Uint8Array> {
    try {
      return await this.fetchBytes(`/models/${name}/versions/${version}/artefacts/${ARTEFACTS.onnx.file}`);
    } catch (err) {
      if (!(err instanceof TransientError) || !this.o.store) throw err;
      return this.o.store.get(storeKeys.artefact(place.artefactPrefix, 'onnx'));
    }
  }

  /** A version's place: known from its registration event or an earlier load, else its record in the registry. */
  private async placeOf(name: string, version: number): Promise<VersionPlace> {
    const known = this.places.get(`${name}/${version}`);
    if (known) return known;
    const place = VersionPlaceSchema.parse(await this.fetchJson(`/models/${name}/versions/${version}`));
    this.learnVersion(name, version, place);
    return place;
  }

  /**
   * The model's files through the registry's API, which works whatever store this gateway was given;
   * when the registry cannot be reached, straight from the store where its place says they are.
   */
  private async files(name: string, version: number, place: VersionPlace): Promise<ModelArtifacts> {
    try {
      const [modelJson, weights] = await Promise.all([
        this.fetchBytes(`/models/${name}/versions/${version}/artefacts/${ARTEFACTS.modelJson.file}`),
        this.fetchBytes(`/models/${name}/versions/${version}/artefacts/${ARTEFACTS.weights.file}`),
      ]);
      return { modelJson, weights };
    } catch (err) {
      if (!(err instanceof TransientError) || !this.o.store) throw err;
      try {
        return await getModelFiles(this.o.store, place.artefactPrefix);
      } catch (storeErr) {
        throw new TransientError(`cannot load ${name} v${version}: ${describeError(err)}, and the store did not serve its files either (${describeError(storeErr)})`, { cause: storeErr });
      }
    }
  }

  private async fetchJson(path: string): Promise<unknown> {
    return JSON.parse(new TextDecoder().decode(await this.fetchBytes(path)));
  }

  private async fetchBytes(path: string): Promise<Uint8Array> {
    let res: Response;
    try {
      const headers: Record<string, string> = this.o.registryToken ? { authorization: `Bearer ${this.o.registryToken}` } : {};
      res = await fetch(`${this.registryUrl}${path}`, { headers, signal: AbortSignal.timeout(10_000) });
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
