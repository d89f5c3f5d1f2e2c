import { randomUUID } from 'node:crypto';
import { withTransaction, type Pool, type PoolClient } from '@mlpipe/db';
import { NotFoundError, ValidationError } from '@mlpipe/common';
import type { Outbox } from '@mlpipe/outbox';
import { NUM_CLASSES, artefactKeyProblem, artefactPrefixProblem, storeKeys, type Alias, type EventData, type GateDecision, type ModelAliasChanged, type ModelVersionRegistered, type OnnxExport, type SweepCompleted, type TrialRef } from '@mlpipe/contracts';
import type { ObjectStore } from '@mlpipe/storage';
import { putJson } from '@mlpipe/storage';
import { decideGate, type GatePolicy } from '../core/gate';

export interface Registration {
  registered: ModelVersionRegistered;
  aliasChanges: ModelAliasChanged[];
}

const TRAINER = 'trainer';

/**
 * A completion whose artefacts lie outside its own model's job folder is refused (ValidationError:
 * the consumer dead-letters it with the reason): registering it would publish, serve and later
 * prune files that are not the job's.
 */
function refuseForeignArtefacts(d: EventData<'train.job.completed'>): void {
  const { prefix, modelJsonKey, weightsKey, onnxKey } = d.artefacts;
  const problem =
    artefactPrefixProblem(prefix, { kind: 'model', modelName: d.modelName, jobId: d.jobId }) ??
    artefactKeyProblem(modelJsonKey, prefix) ??
    artefactKeyProblem(weightsKey, prefix) ??
    (onnxKey === undefined ? undefined : artefactKeyProblem(onnxKey, prefix));
  if (problem) throw new ValidationError(`job ${d.jobId} reported artefacts outside its own folder: ${problem}`);
}

/**
 * Writes what the trainer reports into the registry tables; registering a version runs the gate.
 * Every version registered and alias moved is announced through the outbox on the transaction that
 * makes it true: committed together, published by the relay, never lost to a NATS outage.
 */
export class Registrar {
  constructor(
    private readonly pool: Pool,
    private readonly store: ObjectStore,
    private readonly gate: GatePolicy,
    private readonly outbox: Outbox,
  ) {}

  async runStarted(d: EventData<'train.job.started'>): Promise<void> {
    await withTransaction(this.pool, async (c) => {
      await c.query('insert into registry.experiments (name) values ($1) on conflict do nothing', [d.modelName]);
      if (d.sweep) await this.ensureParent(c, d.sweep, d);
      await c.query(
        `insert into registry.runs (run_id, experiment, status, params, tags, dataset_version, code_version, backend, replica)
         values ($1,$2,'running',$3,$4,$5,$6,$7,$8)
         on conflict (run_id) do update set backend = excluded.backend, replica = excluded.replica,
           tags = registry.runs.tags || excluded.tags
         where registry.runs.status = 'running'`,
        [d.jobId, d.modelName, d.hyperparams, { attempt: String(d.attempt) }, d.datasetVersion, d.codeVersion, d.backend, d.replicaId],
      );
      if (d.sweep) await this.linkTrial(c, d.jobId, d.sweep);
    });
  }

  /** A cancelled job's run (a pruned trial, or a job stopped by hand) ends as killed. */
  async runCancelled(d: EventData<'train.job.cancelled'>): Promise<void> {
    await this.pool.query(`update registry.runs set status = 'killed', ended_at = now() where run_id = $1 and status = 'running'`, [d.jobId]);
  }

  /**
   * A sweep ended: its parent run is closed with the best trial's score, pruned trials are
   * tagged, and the best trial's model is registered through the gate like any job's.
   */
  async sweepCompleted(d: SweepCompleted): Promise<Registration | null> {
    const best = d.trials.find((t) => t.jobId === d.bestJobId);
    await withTransaction(this.pool, async (c) => {
      await c.query(
        `update registry.runs set status = $2, params = $3, ended_at = coalesce(ended_at, now()),
           tags = tags || $4 where run_id = $1`,
        [d.sweepId, d.bestJobId ? 'finished' : 'failed', d.spec, { best_run: d.bestJobId ?? '', reason: d.reason, trials: String(d.trials.length) }],
      );
      for (const t of d.trials.filter((x) => x.pruned)) {
        await c.query(`update registry.runs set tags = tags || '{"pruned":"true"}' where run_id = $1`, [t.jobId]);
      }
      if (best?.valAccuracy != null) await this.writeMetrics(c, d.sweepId, 0, [['best_val_accuracy', best.valAccuracy]]);
    });
    if (!d.bestJobId) return null;
    const { rows } = await this.pool.query<{ completion: EventData<'train.job.completed'> | null }>('select completion from registry.runs where run_id = $1', [d.bestJobId]);
    const completion = rows[0]?.completion;
    if (!completion) throw new ValidationError(`sweep ${d.sweepId}'s best trial ${d.bestJobId} has no recorded completion`);
    return this.registerVersion(completion);
  }

  private async ensureParent(c: PoolClient, sweep: TrialRef, d: { modelName: string; datasetVersion: string; codeVersion: string }): Promise<void> {
    await c.query(
      `insert into registry.runs (run_id, experiment, status, params, tags, dataset_version, code_version)
       values ($1,$2,'running','{}',$3,$4,$5) on conflict (run_id) do nothing`,
      [sweep.sweepId, d.modelName, { kind: 'sweep' }, d.datasetVersion, d.codeVersion],
    );
  }

  private async linkTrial(c: PoolClient, runId: string, sweep: TrialRef): Promise<void> {
    await c.query(`update registry.runs set parent_run_id = $2, tags = tags || $3 where run_id = $1`, [runId, sweep.sweepId, { trial: String(sweep.trial) }]);
  }

  async epochMetrics(d: EventData<'train.job.progress'>): Promise<void> {
    const m = d.metrics;
    const values: [string, number | undefined][] = [
      ['loss', m.loss],
      ['accuracy', m.accuracy],
      ['val_loss', m.valLoss],
      ['val_accuracy', m.valAccuracy],
      ['samples_per_sec', m.samplesPerSec],
      ['epoch_seconds', m.seconds],
    ];
    await this.writeMetrics(this.pool, d.jobId, m.epoch, values);
  }

  async runFailed(d: EventData<'train.job.failed'>): Promise<void> {
    if (d.retryable) return;
    await this.pool.query(`update registry.runs set status = 'failed', error = $2, ended_at = now() where run_id = $1 and status = 'running'`, [
      d.jobId,
      d.error,
    ]);
  }

  /**
   * Records a completed job. A plain job's model is registered at once, through the gate; a sweep
   * trial's run is kept, with its completion, until the sweep names its best (null meanwhile).
   */
  async register(d: EventData<'train.job.completed'>): Promise<Registration | null> {
    refuseForeignArtefacts(d);
    if (!d.sweep) return this.registerVersion(d);
    const sweep = d.sweep;
    await withTransaction(this.pool, async (c) => {
      await c.query('insert into registry.experiments (name) values ($1) on conflict do nothing', [d.modelName]);
      await this.ensureParent(c, sweep, d);
      await this.recordCompletedRun(c, d);
      await this.linkTrial(c, d.jobId, sweep);
      await c.query('update registry.runs set completion = $2 where run_id = $1', [d.jobId, d]);
    });
    return null;
  }

  /** Registers the version a completed job produced, once per run, and moves the aliases the gate says. */
  private async registerVersion(d: EventData<'train.job.completed'>): Promise<Registration> {
    for (const key of [d.artefacts.modelJsonKey, d.artefacts.weightsKey]) {
      if (!(await this.store.head(key))) throw new ValidationError(`job ${d.jobId} completed but its artefact ${key} is missing from the store`);
    }
    const onnx = await this.onnxRecord(d);
    const result = await withTransaction(this.pool, async (c) => {
      await c.query('insert into registry.experiments (name) values ($1) on conflict do nothing', [d.modelName]);
      await this.recordCompletedRun(c, d);

      await c.query('insert into registry.registered_models (name) values ($1) on conflict do nothing', [d.modelName]);
      await c.query('select name from registry.registered_models where name = $1 for update', [d.modelName]);
      const existing = await c.query<{ version: number }>('select version from registry.model_versions where run_id = $1', [d.jobId]);
      if (existing.rows[0]) return this.announce(c, await this.replay(c, d.modelName, existing.rows[0].version));

      const { rows } = await c.query<{ next: number }>(
        'select coalesce(max(version), 0) + 1 as next from registry.model_versions where model = $1',
        [d.modelName],
      );
      const version = rows[0]?.next ?? 1;
      const champion = await this.currentAlias(c, d.modelName, 'champion');
      // Compare on the same test data when the trainer scored this very champion on the job's test split.
      const baseline = d.baselineEvaluation;
      const judgedChampion = champion && baseline?.version === champion.version ? { version: champion.version, testAccuracy: baseline.testAccuracy, sameData: true } : champion;
      const decision = decideGate(d.evaluation, judgedChampion, this.gate);
      await c.query(
        `insert into registry.model_versions (model, version, run_id, artefact_prefix, test_accuracy, per_class_accuracy, confusion_matrix, train_samples, dataset_version, transformed_test_accuracy, onnx)
         values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`,
        [
          d.modelName,
          version,
          d.jobId,
          d.artefacts.prefix,
          d.evaluation.testAccuracy,
          JSON.stringify(d.evaluation.perClassAccuracy),
          JSON.stringify(d.evaluation.confusionMatrix),
          d.trainSamples,
          d.datasetVersion,
          d.evaluation.transformedTestAccuracy ?? null,
          onnx,
        ],
      );
      await this.audit(c, TRAINER, 'version.register', d.modelName, version, decision, { runId: d.jobId, testAccuracy: d.evaluation.testAccuracy });
      const previous = decision.outcome === 'champion' ? champion?.version ?? null : (await this.currentAlias(c, d.modelName, 'challenger'))?.version ?? null;
      await this.setAlias(c, d.modelName, decision.outcome, version);
      await this.audit(c, 'gate', 'alias.set', d.modelName, version, decision, { alias: decision.outcome, previousVersion: previous });
      return this.announce(c, {
        registered: this.registeredEvent(d, version, decision),
        aliasChanges: [{ modelName: d.modelName, alias: decision.outcome, version, previousVersion: previous, reason: decision.reason, actor: 'gate' }],
      });
    });
    await putJson(this.store, storeKeys.artefact(d.artefacts.prefix, 'confusion'), {
      labels: Array.from({ length: NUM_CLASSES }, (_, c) => c),
      matrix: d.evaluation.confusionMatrix,
      perClassAccuracy: d.evaluation.perClassAccuracy,
    });
    return result;
  }

  /**
   * What the version records about its ONNX export: the trainer's verdict, as long as a verified
   * model.onnx is really in the store (an export that vanished is recorded as absent, not refused:
   * the tfjs model is what serving needs).
   */
  private async onnxRecord(d: EventData<'train.job.completed'>): Promise<OnnxExport> {
    const onnx = d.onnx ?? { status: 'absent', reason: 'the trainer that produced this version did not export ONNX' };
    if (onnx.status !== 'verified') return onnx;
    const key = d.artefacts.onnxKey;
    if (!key) return { status: 'absent', reason: 'the trainer verified an ONNX export but reported no key for it' };
    if (!(await this.store.head(key))) return { status: 'absent', reason: `the verified ONNX export ${key} is missing from the store` };
    return onnx;
  }

  /** The run of a completed job, finished, with every epoch's and the final evaluation's metrics. */
  private async recordCompletedRun(c: PoolClient, d: EventData<'train.job.completed'>): Promise<void> {
    await c.query(
      `insert into registry.runs (run_id, experiment, status, params, dataset_version, code_version, backend, replica)
       values ($1,$2,'running',$3,$4,$5,$6,$7) on conflict (run_id) do nothing`,
      [d.jobId, d.modelName, d.hyperparams, d.datasetVersion, d.codeVersion, d.backend, d.replicaId],
    );
    await c.query(`update registry.runs set status = 'finished', ended_at = coalesce(ended_at, now()) where run_id = $1`, [d.jobId]);
    for (const m of d.history) {
      await this.writeMetrics(c, d.jobId, m.epoch, [
        ['loss', m.loss],
        ['accuracy', m.accuracy],
        ['val_loss', m.valLoss],
        ['val_accuracy', m.valAccuracy],
        ['samples_per_sec', m.samplesPerSec],
      ]);
    }
    const finalStep = d.history.at(-1)?.epoch ?? 0;
    await this.writeMetrics(c, d.jobId, finalStep, [
      ['test_accuracy', d.evaluation.testAccuracy],
      ['transformed_test_accuracy', d.evaluation.transformedTestAccuracy],
      ['duration_seconds', d.durationSec],
      ...d.evaluation.perClassAccuracy.map((a, i): [string, number] => [`test_accuracy_class_${i}`, a]),
    ]);
  }

  /** Points an alias at a version by hand; audited like the gate's moves, announced with the move. */
  async promote(model: string, alias: Alias, version: number, reason: string, actor: string): Promise<ModelAliasChanged> {
    return withTransaction(this.pool, async (c) => {
      const found = await c.query('select 1 from registry.model_versions where model = $1 and version = $2', [model, version]);
      if (!found.rowCount) throw new NotFoundError(`model ${model} has no version ${version}`);
      const previous = (await this.currentAlias(c, model, alias))?.version ?? null;
      await this.setAlias(c, model, alias, version);
      await this.audit(c, actor, 'alias.set', model, version, { outcome: alias, reason }, { alias, previousVersion: previous, manual: true });
      const change: ModelAliasChanged = { modelName: model, alias, version, previousVersion: previous, reason, actor };
      // Each move by hand is an event of its own, even back to a version the alias held before.
      await this.outbox.enqueue(c, 'model.alias.changed', change, `model.alias.changed:${model}:${alias}:${version}:${randomUUID()}`);
      return change;
    });
  }

  /**
   * Enqueues a registration's events on its transaction. Their ids name the version, so a redelivered
   * completion (replayed from the tables) enqueues nothing new, and JetStream keeps one of each.
   */
  private async announce(c: PoolClient, r: Registration): Promise<Registration> {
    const v = r.registered;
    await this.outbox.enqueue(c, 'model.version.registered', v, `model.version.registered:${v.modelName}:${v.version}`);
    for (const a of r.aliasChanges) await this.outbox.enqueue(c, 'model.alias.changed', a, `model.alias.changed:${a.modelName}:${a.alias}:${a.version}:gate`);
    return r;
  }

  private registeredEvent(d: EventData<'train.job.completed'>, version: number, decision: GateDecision): ModelVersionRegistered {
    return {
      modelName: d.modelName,
      version,
      runId: d.jobId,
      jobId: d.jobId,
      testAccuracy: d.evaluation.testAccuracy,
      datasetVersion: d.datasetVersion,
      trainSamples: d.trainSamples,
      artefactPrefix: d.artefacts.prefix,
      decision,
    };
  }

  /** A redelivered completion: rebuild the same events from what was recorded (their ids de-duplicate them). */
  private async replay(c: PoolClient, model: string, version: number): Promise<Registration> {
    const { rows } = await c.query<{ run_id: string; test_accuracy: number; dataset_version: string; train_samples: number; artefact_prefix: string }>(
      'select * from registry.model_versions where model = $1 and version = $2',
      [model, version],
    );
    const v = rows[0]!;
    const a = await c.query<{ decision: 'champion' | 'challenger'; reason: string; details: { previousVersion: number | null } }>(
      `select decision, reason, details from registry.audit_log where model = $1 and version = $2 and action = 'alias.set' and actor = 'gate' order by id limit 1`,
      [model, version],
    );
    const gate = a.rows[0] ?? { decision: 'challenger' as const, reason: 'recorded earlier', details: { previousVersion: null } };
    const decision: GateDecision = { outcome: gate.decision, reason: gate.reason };
    return {
      registered: {
        modelName: model,
        version,
        runId: v.run_id,
        jobId: v.run_id,
        testAccuracy: v.test_accuracy,
        datasetVersion: v.dataset_version,
        trainSamples: v.train_samples,
        artefactPrefix: v.artefact_prefix,
        decision,
      },
      aliasChanges: [{ modelName: model, alias: gate.decision, version, previousVersion: gate.details.previousVersion ?? null, reason: gate.reason, actor: 'gate' }],
    };
  }

  private async currentAlias(c: PoolClient, model: string, alias: Alias): Promise<{ version: number; testAccuracy: number } | null> {
    const { rows } = await c.query<{ version: number; test_accuracy: number }>(
      `select v.version, v.test_accuracy from registry.aliases a
       join registry.model_versions v on v.model = a.model and v.version = a.version
       where a.model = $1 and a.alias = $2`,
      [model, alias],
    );
    return rows[0] ? { version: rows[0].version, testAccuracy: rows[0].test_accuracy } : null;
  }

  private async setAlias(c: PoolClient, model: string, alias: Alias, version: number): Promise<void> {
    await c.query(
      `insert into registry.aliases (model, alias, version) values ($1,$2,$3)
       on conflict (model, alias) do update set version = excluded.version, updated_at = now()`,
      [model, alias, version],
    );
  }

  private async audit(c: PoolClient, actor: string, action: string, model: string, version: number, decision: GateDecision, details: object): Promise<void> {
    await c.query(
      'insert into registry.audit_log (actor, action, model, version, decision, reason, details) values ($1,$2,$3,$4,$5,$6,$7)',
      [actor, action, model, version, decision.outcome, decision.reason, details],
    );
  }

  private async writeMetrics(c: Pool | PoolClient, runId: string, step: number, values: [string, number | undefined][]): Promise<void> {
    const present = values.filter((v): v is [string, number] => v[1] !== undefined && Number.isFinite(v[1]));
    if (!present.length) return;
    await c.query(
      `insert into registry.run_metrics (run_id, key, step, value)
       select $1, k, $2, v from unnest($3::text[], $4::float8[]) as t(k, v)
       on conflict (run_id, key, step) do update set value = excluded.value`,
      [runId, step, present.map((p) => p[0]), present.map((p) => p[1])],
    );
  }
}
