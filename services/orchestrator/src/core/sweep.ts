import { mulberry32, ValidationError } from '@mlpipe/common';
import { HyperparamsSchema, type EarlyStopping, type Hyperparams, type JobStatus, type SweepSpec } from '@mlpipe/contracts';

const MAX_TRIALS = 100;

type Choice = Partial<Pick<Hyperparams, 'arch' | 'learningRate' | 'batchSize' | 'epochs' | 'optimizer' | 'lrSchedule'>>;

/**
 * The trials of a sweep: every combination of the listed values (grid, in a fixed key order), or
 * `trials` seeded random draws (lists picked uniformly, a learning-rate range log- or linearly
 * uniform). Each trial is the base hyperparameters with its choices laid over them.
 */
export function expandTrials(spec: SweepSpec, base: Hyperparams): Hyperparams[] {
  const { space } = spec;
  const choices: Choice[] = [];
  if (spec.strategy === 'grid') {
    let combos: Choice[] = [{}];
    const axis = <K extends keyof Choice>(key: K, values: readonly NonNullable<Choice[K]>[] | undefined) => {
      if (values) combos = combos.flatMap((c) => values.map((v) => ({ ...c, [key]: v })));
    };
    axis('arch', space.arch);
    axis('learningRate', Array.isArray(space.learningRate) ? space.learningRate : undefined);
    axis('batchSize', space.batchSize);
    axis('epochs', space.epochs);
    axis('optimizer', space.optimizer);
    axis('lrSchedule', space.lrSchedule);
    if (combos.length > MAX_TRIALS) throw new ValidationError(`the grid has ${combos.length} combinations; at most ${MAX_TRIALS}`);
    choices.push(...combos);
  } else {
    const rand = mulberry32(spec.seed);
    const pick = <T>(values: readonly T[]) => values[Math.floor(rand() * values.length)] as T;
    for (let i = 0; i < spec.trials; i++) {
      const c: Choice = {};
      if (space.arch) c.arch = pick(space.arch);
      const lr = space.learningRate;
      if (Array.isArray(lr)) c.learningRate = pick(lr);
      else if (lr) c.learningRate = lr.scale === 'log' ? Math.exp(Math.log(lr.min) + rand() * (Math.log(lr.max) - Math.log(lr.min))) : lr.min + rand() * (lr.max - lr.min);
      if (space.batchSize) c.batchSize = pick(space.batchSize);
      if (space.epochs) c.epochs = pick(space.epochs);
      // Drawn after the older keys, so a space without these draws what it drew before.
      if (space.optimizer) c.optimizer = pick(space.optimizer);
      if (space.lrSchedule) c.lrSchedule = pick(space.lrSchedule);
      choices.push(c);
    }
  }
  return choices.map((c) => HyperparamsSchema.parse({ ...base, ...c }));
}

export interface EpochScore {
  epoch: number;
  /** Validation accuracy, or training accuracy when the job holds out no validation set. */
  score: number;
}

export interface TrialCurve {
  jobId: string;
  trial: number;
  status: JobStatus;
  epochs: number;
  history: EpochScore[];
  pruned: boolean;
}

export type TrialJudgement = { prune: false } | { prune: true; reason: string };

const scoreAt = (t: TrialCurve, epoch: number) => t.history.find((h) => h.epoch === epoch)?.score;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/**
 * Early stopping, judged when a trial reports `epoch`, against the other trials' scores at that
 * same epoch (asynchronously: trials run at their own pace, each is judged against those ahead).
 *  - median: stop it if it is below the median of the others (once `minTrials` have got there).
 *  - successive-halving: at epochs minEpochs·eta^k, keep only the best ⌊n/eta⌋ of the n trials
 *    that reached it so far.
 * A trial in its last epoch is never stopped: it has nothing left to save.
 */
export function judgeTrial(rule: EarlyStopping, judged: TrialCurve, others: readonly TrialCurve[], epoch: number): TrialJudgement {
  const own = scoreAt(judged, epoch);
  if (rule.rule === 'none' || own === undefined || epoch < rule.minEpochs || epoch >= judged.epochs) return { prune: false };
  const peers = others.filter((t) => t.jobId !== judged.jobId).map((t) => scoreAt(t, epoch)).filter((s): s is number => s !== undefined);
  if (rule.rule === 'median') {
    if (peers.length + 1 < rule.minTrials) return { prune: false };
    const sorted = [...peers].sort((a, b) => a - b);
    const mid = sorted.length / 2;
    const median = sorted.length % 2 ? (sorted[Math.floor(mid)] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
    if (own >= median) return { prune: false };
    return { prune: true, reason: `pruned by the median rule at epoch ${epoch}: ${pct(own)} is below the median ${pct(median)} of ${peers.length} other trials` };
  }
  if (!isRung(epoch, rule.minEpochs, rule.eta)) return { prune: false };
  const reached = [own, ...peers].sort((a, b) => b - a);
  const keep = Math.floor(reached.length / rule.eta);
  if (keep < 1) return { prune: false };
  const cutoff = reached[keep - 1] as number;
  if (own >= cutoff) return { prune: false };
  return { prune: true, reason: `pruned by successive halving at epoch ${epoch}: ${pct(own)} is outside the best ${keep} of ${reached.length} trials (cut-off ${pct(cutoff)})` };
}

function isRung(epoch: number, minEpochs: number, eta: number): boolean {
  for (let r = minEpochs; r <= epoch; r *= eta) if (r === epoch) return true;
  return false;
}

/** The sweep's winner: the finished, unpruned trial with the best final score (earlier trial on ties). */
export function pickBest(trials: readonly TrialCurve[]): { jobId: string; reason: string } | undefined {
  let best: { t: TrialCurve; score: number } | undefined;
  for (const t of trials) {
    const last = t.history.at(-1);
    if (t.status !== 'succeeded' || t.pruned || !last) continue;
    if (!best || last.score > best.score) best = { t, score: last.score };
  }
  if (!best) return undefined;
  const finished = trials.filter((t) => t.status === 'succeeded' && !t.pruned).length;
  return { jobId: best.t.jobId, reason: `trial ${best.t.trial} has the best validation accuracy (${pct(best.score)}) of ${finished} finished trials` };
}
