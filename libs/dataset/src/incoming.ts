import {
  INCOMING_FILES,
  INCOMING_MANIFEST_FILE as MANIFEST_FILE,
  IncomingBatchManifestSchema,
  incomingPngFile,
  storeKeys,
  type DatasetName,
  type IncomingBatchManifest,
  type Split,
} from '@mlpipe/contracts';
import { NotFoundError } from '@mlpipe/common';
import { putJson, type ObjectStore } from '@mlpipe/storage';
import { encodeIdx, parseIdx } from './idx';
import { decodeDigitPng, encodeDigitPng } from './png';
import { sha256Hex } from './hash';
import { IMAGE_SIDE, PIXELS, type LabelledImages } from './types';
import { DEFAULT_INCOMING_LIMITS, boundedReasons, type IncomingLimits } from './limits';

export type DecodedBatch =
  | { ok: true; manifest: IncomingBatchManifest; set: LabelledImages; warnings: string[] }
  | { ok: false; manifest?: IncomingBatchManifest; reasons: string[] };

/**
 * Reads an incoming batch folder: its batch.json (the commit marker), the files it names, their
 * checksums when given, and decodes IDX pairs or PNGs + labels CSV. Never throws for bad
 * content: it returns the reasons (the first MAX_REASONS), so the batch can be rejected with them.
 * A batch past the limits is refused before its files are read (bytes) or decoded (samples, rows).
 */
export async function readIncomingBatch(store: ObjectStore, prefix: string, limits: IncomingLimits = DEFAULT_INCOMING_LIMITS): Promise<DecodedBatch> {
  const decoded = await readWithinLimits(store, prefix, limits);
  return decoded.ok ? decoded : { ...decoded, reasons: boundedReasons(decoded.reasons) };
}

async function readWithinLimits(store: ObjectStore, prefix: string, limits: IncomingLimits): Promise<DecodedBatch> {
  // The listing says what the folder holds before anything is read (a complete batch lists its batch.json).
  const listed = await store.list(prefix);
  const bytes = listed.reduce((sum, o) => sum + o.size, 0);
  if (bytes > limits.maxBatchBytes && listed.some((o) => o.key === storeKeys.incomingBatchManifest(prefix))) {
    return { ok: false, reasons: [`the batch folder holds ${bytes} bytes; at most ${limits.maxBatchBytes} (DATA_MAX_BATCH_BYTES): split it into smaller batches`] };
  }
  let manifest: IncomingBatchManifest;
  try {
    const raw: unknown = JSON.parse(new TextDecoder().decode(await store.get(storeKeys.incomingBatchManifest(prefix))));
    const parsed = IncomingBatchManifestSchema.safeParse(raw);
    if (!parsed.success) {
      return { ok: false, reasons: [`${MANIFEST_FILE} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`] };
    }
    manifest = parsed.data;
  } catch (err) {
    if (err instanceof NotFoundError) throw err;
    return { ok: false, reasons: [`${MANIFEST_FILE} is not JSON: ${(err as Error).message}`] };
  }

  const reasons: string[] = [];
  const read = async (file: string): Promise<Uint8Array | undefined> => {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(file)) {
      reasons.push(`file name "${file}" is not a plain name inside the batch folder`);
      return undefined;
    }
    try {
      const bytes = await store.get(storeKeys.incomingFile(prefix, file));
      const expected = manifest.sha256?.[file];
      if (expected && sha256Hex(bytes) !== expected) {
        reasons.push(`${file}: checksum mismatch (expected ${expected.slice(0, 12)}…, got ${sha256Hex(bytes).slice(0, 12)}…)`);
      }
      return bytes;
    } catch (err) {
      if (err instanceof NotFoundError) {
        reasons.push(`${file} is named in ${MANIFEST_FILE} but missing`);
        return undefined;
      }
      throw err;
    }
  };

  const set = manifest.format === 'idx' ? await decodeIdxPair(manifest, read, reasons, limits) : await decodePngCsv(manifest, read, reasons, limits);
  if (reasons.length || !set) return { ok: false, manifest, reasons: reasons.length ? reasons : ['the batch could not be decoded'] };
  return { ok: true, manifest, set: set.set, warnings: set.warnings };
}

/** What mlpipe drops as a batch: images as bytes, stored as an IDX pair or as one PNG per image with a labels CSV. */
export interface IncomingBatch {
  dataset: DatasetName;
  split: Split;
  format: IncomingBatchManifest['format'];
  set: LabelledImages;
  note?: string | undefined;
}

/**
 * Writes a batch the way anyone should drop one: the data files first, with their SHA-256 in the
 * manifest, and batch.json last, so the watcher never sees a half-written batch as complete.
 * Used by `mlpipe-data seed`, the web UI's corrections and the demo's drifted data.
 */
export async function writeIncomingBatch(store: ObjectStore, prefix: string, batch: IncomingBatch): Promise<IncomingBatchManifest> {
  const files = batch.format === 'idx' ? idxFiles(batch.set) : pngCsvFiles(batch.set);
  const sha256: Record<string, string> = {};
  for (const [file, bytes] of files) {
    await store.put(storeKeys.incomingFile(prefix, file), bytes);
    sha256[file] = sha256Hex(bytes);
  }
  const manifest: IncomingBatchManifest = {
    schemaVersion: 1,
    dataset: batch.dataset,
    split: batch.split,
    format: batch.format,
    files: batch.format === 'idx' ? { images: INCOMING_FILES.images, labels: INCOMING_FILES.labels } : { labels: INCOMING_FILES.labelsCsv },
    sha256,
    ...(batch.note ? { note: batch.note } : {}),
  };
  await putJson(store, storeKeys.incomingBatchManifest(prefix), manifest);
  return manifest;
}

function idxFiles(set: LabelledImages): [string, Uint8Array][] {
  return [
    [INCOMING_FILES.images, encodeIdx([set.count, IMAGE_SIDE, IMAGE_SIDE], set.images.subarray(0, set.count * PIXELS))],
    [INCOMING_FILES.labels, encodeIdx([set.count], set.labels.subarray(0, set.count))],
  ];
}

function pngCsvFiles(set: LabelledImages): [string, Uint8Array][] {
  const pngs: [string, Uint8Array][] = [];
  const rows = ['file,label'];
  for (let i = 0; i < set.count; i++) {
    pngs.push([incomingPngFile(i), encodeDigitPng(set.images.subarray(i * PIXELS, (i + 1) * PIXELS))]);
    rows.push(`${incomingPngFile(i)},${set.labels[i] as number}`);
  }
  return [...pngs, [INCOMING_FILES.labelsCsv, new TextEncoder().encode(`${rows.join('\n')}\n`)]];
}

type Reader = (file: string) => Promise<Uint8Array | undefined>;

async function decodeIdxPair(m: IncomingBatchManifest, read: Reader, reasons: string[], limits: IncomingLimits) {
  const imagesFile = m.files.images;
  const labelsFile = m.files.labels;
  if (!imagesFile || !labelsFile) {
    reasons.push('an idx batch names files.images and files.labels');
    return undefined;
  }
  const [ib, lb] = [await read(imagesFile), await read(labelsFile)];
  if (!ib || !lb) return undefined;
  try {
    const images = parseIdx(ib, imagesFile);
    const labels = parseIdx(lb, labelsFile);
    const [n, rows, cols] = images.dims;
    if (images.dims.length !== 3 || rows !== IMAGE_SIDE || cols !== IMAGE_SIDE) {
      reasons.push(`${imagesFile} has shape ${images.dims.join('×')}; expected N×${IMAGE_SIDE}×${IMAGE_SIDE}`);
    }
    if (labels.dims.length !== 1) reasons.push(`${labelsFile} has shape ${labels.dims.join('×')}; expected N`);
    if (labels.dims[0] !== n) reasons.push(`${imagesFile} holds ${n} images but ${labelsFile} holds ${labels.dims[0]} labels`);
    if ((n as number) > limits.maxSamples) reasons.push(tooManySamples(n as number, limits));
    if (reasons.length) return undefined;
    return { set: { images: images.data, labels: labels.data, count: n as number }, warnings: [] as string[] };
  } catch (err) {
    reasons.push((err as Error).message);
    return undefined;
  }
}

const tooManySamples = (n: number, limits: IncomingLimits) => `the batch holds ${n} samples; at most ${limits.maxSamples} (DATA_MAX_BATCH_SAMPLES): split it into smaller batches`;

async function decodePngCsv(m: IncomingBatchManifest, read: Reader, reasons: string[], limits: IncomingLimits) {
  const csvFile = m.files.labels;
  if (!csvFile) {
    reasons.push('a png-csv batch names files.labels (a CSV of file,label rows)');
    return undefined;
  }
  const csv = await read(csvFile);
  if (!csv) return undefined;
  const rows = new TextDecoder()
    .decode(csv)
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  if (rows[0] && /^file\s*,\s*label$/i.test(rows[0])) rows.shift();
  // Before the images are allocated (784 bytes a row) or any PNG is read.
  if (rows.length > limits.maxCsvRows) {
    reasons.push(`${csvFile} has ${rows.length} rows; at most ${limits.maxCsvRows} (DATA_MAX_CSV_ROWS)`);
    return undefined;
  }
  if (rows.length > limits.maxSamples) {
    reasons.push(tooManySamples(rows.length, limits));
    return undefined;
  }
  const images = new Uint8Array(rows.length * PIXELS);
  const labels = new Uint8Array(rows.length);
  const warnings: string[] = [];
  let inverted = 0;
  for (const [i, row] of rows.entries()) {
    const [file, label] = row.split(',').map((s) => s.trim());
    const value = Number(label);
    if (!file || label === undefined || !Number.isInteger(value) || value < 0 || value > 255) {
      reasons.push(`${csvFile} line ${i + 1}: expected "file,label" with an integer label, got "${row.slice(0, 80)}"`);
      continue;
    }
    const bytes = await read(file);
    if (!bytes) continue;
    const decoded = decodeDigitPng(bytes, file);
    if (!decoded.ok) {
      reasons.push(decoded.reason);
      continue;
    }
    if (decoded.inverted) inverted++;
    images.set(decoded.pixels, i * PIXELS);
    labels[i] = value;
  }
  if (inverted) warnings.push(`${inverted} PNGs had dark ink on a light background and were inverted`);
  return { set: { images, labels, count: rows.length }, warnings };
}
