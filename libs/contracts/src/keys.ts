import { z } from 'zod';
import { DatasetNameSchema, SplitSchema } from './common';

/** The commit marker of an incoming batch: written after its data files, so its presence says "complete". */
export const INCOMING_MANIFEST_FILE = 'batch.json';
/** The data files mlpipe itself writes into an incoming batch (people may name theirs as they like). */
export const INCOMING_FILES = { images: 'images.idx', labels: 'labels.idx', labelsCsv: 'labels.csv' } as const;
/** The i-th PNG of a png-csv batch mlpipe writes. */
export const incomingPngFile = (i: number) => `digit-${String(i).padStart(5, '0')}.png`;

/** Normalised batch files, inside storeKeys.normalisedBatch(). */
export const NORMALISED_FILES = { images: 'images.idx', labels: 'labels.idx', manifest: 'manifest.json' } as const;

/**
 * The files of a model version's artefact folder (storeKeys.modelArtefacts), with the content type
 * they are stored and served with. modelJson and weights are also the files of a checkpoint.
 */
export const ARTEFACTS = {
  modelJson: { file: 'model.json', contentType: 'application/json' },
  weights: { file: 'weights.bin', contentType: 'application/octet-stream' },
  confusion: { file: 'confusion.json', contentType: 'application/json' },
  modelCard: { file: 'model-card.md', contentType: 'text/markdown' },
  /** The same network as ONNX (opset 13), written only once onnxruntime-node has matched it to tfjs. */
  onnx: { file: 'model.onnx', contentType: 'application/octet-stream' },
} as const;
export type ArtefactName = keyof typeof ARTEFACTS;
export type ArtefactFile = (typeof ARTEFACTS)[ArtefactName]['file'];
export const ARTEFACT_FILES = Object.values(ARTEFACTS).map((a) => a.file) as ArtefactFile[];

/** The artefact of a stored file name (e.g. from a download URL), or undefined for any other name. */
export function artefactOfFile(file: string): ArtefactName | undefined {
  return (Object.keys(ARTEFACTS) as ArtefactName[]).find((name) => ARTEFACTS[name].file === file);
}

const PREDICTIONS_ROOT = 'predictions/';

/**
 * Object-store layout shared by every service. Keys and artefact file names are built only here
 * (libs/contracts/test/keys.test.ts fails on a key literal anywhere else), from validated ids, so
 * no request or event can steer a write outside its place.
 */
export const storeKeys = {
  /** Where people (and `mlpipe-data seed`) drop labelled batches: one folder per batch under DATA_PREFIX. */
  incomingBatch: (dataPrefix: string, batch: string) => `${dataPrefix}${batch}/`,
  /** A file of an incoming batch folder (its name comes from batch.json and is checked by the reader). */
  incomingFile: (batchPrefix: string, file: string) => `${batchPrefix}${file}`,
  incomingBatchManifest: (batchPrefix: string) => `${batchPrefix}${INCOMING_MANIFEST_FILE}`,
  normalisedBatch: (dataset: string, contentHash: string) => `datasets/${dataset}/batches/${contentHash}/`,
  normalisedFile: (batchPrefix: string, file: keyof typeof NORMALISED_FILES) => `${batchPrefix}${NORMALISED_FILES[file]}`,
  datasetVersion: (dataset: string, versionId: string) => `datasets/${dataset}/versions/${versionId}.json`,
  /** One folder per attempt and step: a stale attempt never writes into a newer one's checkpoint. */
  checkpointDir: (jobId: string, attempt: number, step: number) => `checkpoints/${jobId}/attempt-${String(attempt).padStart(3, '0')}/step-${String(step).padStart(9, '0')}/`,
  /** Everything of a job's checkpoints: its attempt/step folders and its pointer (what pruning lists). */
  checkpoints: (jobId: string) => `checkpoints/${jobId}/`,
  /** Written last, after the checkpoint files: a checkpoint exists only once this points at it. */
  checkpointPointer: (jobId: string) => `checkpoints/${jobId}/latest.json`,
  /** With the attempt, one folder per attempt: a redelivered attempt never overwrites files another attempt announced. */
  modelArtefacts: (modelName: string, jobId: string, attempt?: number) => `models/${modelName}/${jobId}/${attempt ? `attempt-${attempt}/` : ''}`,
  /** One file of an artefact or checkpoint folder. */
  artefact: (prefix: string, name: ArtefactName) => `${prefix}${ARTEFACTS[name].file}`,
  /** Every model's sampled predictions (what the drift monitor reads). */
  predictionLogs: () => PREDICTIONS_ROOT,
  /** Sampled predictions, JSON lines, one object per flush of one gateway replica. */
  predictionLogDir: (modelName: string) => `${PREDICTIONS_ROOT}${modelName}/`,
  predictionLog: (modelName: string, day: string, name: string) => `${PREDICTIONS_ROOT}${modelName}/${day}/${name}.jsonl`,
} as const;

/** One sampled prediction (a line of a prediction log): enough to trace it and to test inputs for drift. */
export const PredictionRecordSchema = z
  .object({
    predictionId: z.string().min(1).max(64),
    at: z.iso.datetime({ offset: true }),
    model: z.string().min(1),
    version: z.number().int().positive(),
    /** champion or challenger served it; shadow: the challenger scored it, unseen by the caller. */
    variant: z.enum(['champion', 'challenger', 'pinned', 'named', 'shadow']),
    class: z.number().int().min(0).max(9),
    confidence: z.number().min(0).max(1),
    /** The 28×28 input the model saw, base64 bytes. */
    input28: z.string().min(1),
  })
  .strict();
export type PredictionRecord = z.infer<typeof PredictionRecordSchema>;

/**
 * `batch.json`: the commit marker of an incoming batch, written after its data files. Its
 * presence says the batch is complete; it names the files and (optionally) their SHA-256.
 */
export const IncomingBatchManifestSchema = z
  .object({
    schemaVersion: z.literal(1),
    dataset: DatasetNameSchema,
    split: SplitSchema,
    format: z.enum(['idx', 'png-csv']),
    /** idx: { images, labels } file names; png-csv: { labels } CSV of "file,label" rows. */
    files: z.record(z.string(), z.string().min(1)),
    sha256: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)).optional(),
    note: z.string().optional(),
  })
  .strict();
export type IncomingBatchManifest = z.infer<typeof IncomingBatchManifestSchema>;

export const CheckpointPointerSchema = z
  .object({
    jobId: z.string(),
    /** Whole epochs done. */
    epoch: z.number().int().min(0),
    /** Steps applied (absent in checkpoints written before step checkpoints: epoch × steps per epoch). */
    steps: z.number().int().min(0).optional(),
    /** The sums of the epoch in progress, when the checkpoint is mid-epoch. */
    partialEpoch: z.object({ samples: z.number().int().min(0), lossSum: z.number(), correct: z.number().min(0), seconds: z.number().min(0) }).strict().optional(),
    attempt: z.number().int().positive().optional(),
    prefix: z.string(),
    history: z.array(z.unknown()),
    writtenAt: z.string(),
  })
  .strict();
export type CheckpointPointer = z.infer<typeof CheckpointPointerSchema>;

/** Whose an artefact folder named by an event (or a pointer in the store) must be. */
export type ArtefactOwner =
  /** A model version's files: models/<model>/<job>/…, under the job when it is known, else under any job of the model (a champion). */
  | { kind: 'model'; modelName: string; jobId?: string }
  /** A job's checkpoints: checkpoints/<job>/…. */
  | { kind: 'checkpoint'; jobId: string };

const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const MAX_PLACE_LENGTH = 1024;

/**
 * Why a store prefix taken from an event does not lie under its owner's folder, or undefined when
 * it does. Events come from the bus, which is not proof of anything: a prefix pointing at another
 * model, another job or the bucket's root would make a consumer register, load or overwrite files
 * that are not the event's. The prefix must be one built by storeKeys, of path segments of safe
 * characters only: no `..` or `.`, no empty segment, no leading `/`, no backslash, no `%` (an
 * encoded `/` or `.` would be decoded by some store or proxy on the way), no control characters.
 */
export function artefactPrefixProblem(prefix: unknown, owner: ArtefactOwner): string | undefined {
  if (typeof prefix !== 'string' || prefix.length === 0) return 'the artefact prefix is empty';
  const shown = JSON.stringify(prefix.length > 120 ? `${prefix.slice(0, 120)}…` : prefix);
  if (prefix.length > MAX_PLACE_LENGTH) return `the artefact prefix ${shown} is longer than ${MAX_PLACE_LENGTH} characters`;
  if (prefix.startsWith('/')) return `the artefact prefix ${shown} starts with "/"`;
  if (prefix.includes('\\')) return `the artefact prefix ${shown} contains a backslash`;
  if (prefix.includes('%')) return `the artefact prefix ${shown} contains "%" (percent-encoding is not accepted)`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(prefix)) return `the artefact prefix ${shown} contains a control character`;
  if (!prefix.endsWith('/')) return `the artefact prefix ${shown} does not end with "/"`;
  const segments = prefix.slice(0, -1).split('/');
  const bad = segments.find((s) => !SAFE_SEGMENT.test(s));
  if (bad !== undefined) return `the artefact prefix ${shown} has a segment ${JSON.stringify(bad)} (only letters, digits, ".", "_" and "-", not starting with "."; no empty, "." or ".." segments)`;
  const [root, first, second] = segments;
  if (owner.kind === 'checkpoint') {
    const own = storeKeys.checkpointPointer(owner.jobId).replace(/[^/]*$/, '');
    return `${root}/${first}/` === own ? undefined : `the checkpoint prefix ${shown} is not under its job's folder ${own}`;
  }
  const model = storeKeys.modelArtefacts(owner.modelName, owner.jobId ?? 'x').split('/');
  if (root !== model[0] || first !== owner.modelName || second === undefined) {
    return `the artefact prefix ${shown} is not under its model's folder ${model[0]}/${owner.modelName}/<job>/`;
  }
  if (owner.jobId !== undefined && second !== owner.jobId) return `the artefact prefix ${shown} is not under its job's folder ${storeKeys.modelArtefacts(owner.modelName, owner.jobId)}`;
  return undefined;
}

/** Why a file key taken from an event is not one of the artefact files directly in `prefix` (already checked), or undefined. */
export function artefactKeyProblem(key: unknown, prefix: string): string | undefined {
  if (typeof key !== 'string' || !key.startsWith(prefix)) return `the artefact key ${JSON.stringify(key)} is not in its folder ${prefix}`;
  const file = key.slice(prefix.length);
  return artefactOfFile(file) ? undefined : `the artefact key ${JSON.stringify(key)} names no artefact file (${ARTEFACT_FILES.join(', ')})`;
}
