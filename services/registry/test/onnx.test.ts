import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { publishEvent, streamNameOf } from '@mlpipe/bus';
import { eventually } from '@mlpipe/common';
import { createPool, type Pool } from '@mlpipe/db';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { createTestBus, createTestDatabase } from '@mlpipe/testing';
import { DeadLetterSchema, type EventData, type OnnxExport } from '@mlpipe/contracts';
import { createObjectStore, type ObjectStore } from '@mlpipe/storage';
import { startRegistry, type RunningRegistry } from '../src/service';
import { completed, putArtefacts } from './fixtures';

const logger = createLogger('registry-onnx-test', 'silent');
const VERIFIED: OnnxExport = { status: 'verified', maxAbsDiff: 1e-7, tolerance: 1e-5, samples: 32, opset: 13 };
/** Stand-in bytes: the registry stores and serves model.onnx, it does not run it (the trainer verified it). */
const ONNX_BYTES = new Uint8Array([8, 7, 18, 6, 109, 108, 112, 105, 112, 101]);

describe('registry: the ONNX export of a version', () => {
  let bus: Awaited<ReturnType<typeof createTestBus>>;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;
  let root: string;
  let store: ObjectStore;
  let registry: RunningRegistry;

  const get = (url: string) => registry.app.inject({ method: 'GET', url });
  /** Publishes a completion and waits for its version to be registered (versions number from 1 in order). */
  const register = async (d: EventData<'train.job.completed'>, version: number) => {
    await putArtefacts(store, d.jobId);
    await publishEvent(bus, 'train.job.completed', d, { source: 't' });
    return eventually(async () => {
      const r = await get(`/models/mnist/versions/${version}`);
      return r.statusCode === 200 ? (r.json() as { onnx: OnnxExport | null }) : undefined;
    });
  };

  beforeEach(async () => {
    bus = await createTestBus();
    db = await createTestDatabase();
    pool = await createPool(db.url);
    root = await mkdtemp(join(tmpdir(), 'mlpipe-reg-onnx-'));
    store = createObjectStore({ kind: 'fs', root });
    registry = await startRegistry({ config: { GATE_MARGIN: 0.002, GATE_CLASS_FLOOR: 0.9 }, bus, pool, store, logger, metrics: createMetricsRegistry('registry') });
  });
  afterEach(async () => {
    await registry.stop();
    await registry.app.close();
    await bus.dispose();
    await pool.end();
    await db.drop();
    await rm(root, { recursive: true, force: true });
  });

  it('records a verified model.onnx and serves it beside model.json', async () => {
    const d = completed('job-onnx', 0.97);
    const onnxKey = `${d.artefacts.prefix}model.onnx`;
    await store.put(onnxKey, ONNX_BYTES);
    const v = await register({ ...d, onnx: VERIFIED, artefacts: { ...d.artefacts, onnxKey } }, 1);
    expect(v.onnx).toEqual(VERIFIED);
    const file = await get('/models/mnist/versions/1/artefacts/model.onnx');
    expect(file.statusCode).toBe(200);
    expect(new Uint8Array(file.rawPayload)).toEqual(ONNX_BYTES);
  });

  it('records why a version has no ONNX, and answers its download with that reason', async () => {
    const v1 = await register({ ...completed('job-rejected', 0.97), onnx: { status: 'absent', reason: 'ONNX outputs differ from tfjs by up to 3.1e-2 (tolerance 0.00001)' } }, 1);
    expect(v1.onnx).toEqual({ status: 'absent', reason: expect.stringMatching(/differ from tfjs/) });
    const miss = await get('/models/mnist/versions/1/artefacts/model.onnx');
    expect(miss.statusCode).toBe(404);
    expect(miss.json().error).toMatch(/mnist v1 has no ONNX export: ONNX outputs differ from tfjs/);

    // A completion claiming a verified export whose file is not in the store.
    const d = completed('job-vanished', 0.98);
    const v2 = await register({ ...d, onnx: VERIFIED, artefacts: { ...d.artefacts, onnxKey: `${d.artefacts.prefix}model.onnx` } }, 2);
    expect(v2.onnx).toEqual({ status: 'absent', reason: expect.stringMatching(/the verified ONNX export models\/mnist\/job-vanished\/model\.onnx is missing from the store/) });

    // A completion from a trainer older than the export.
    const v3 = await register(completed('job-old', 0.99), 3);
    expect(v3.onnx).toEqual({ status: 'absent', reason: 'the trainer that produced this version did not export ONNX' });
  });

  it('dead-letters a completion whose model.onnx lies outside its own job folder', async () => {
    const d = completed('job-foreign', 0.97);
    await putArtefacts(store, d.jobId);
    await publishEvent(bus, 'train.job.completed', { ...d, onnx: VERIFIED, artefacts: { ...d.artefacts, onnxKey: 'models/other/job-x/model.onnx' } }, { source: 't' });
    const stream = streamNameOf(bus.namespace, 'DLQ');
    const letter = await eventually(async () => {
      const info = await bus.jsm.streams.info(stream);
      if (!info.state.messages) return undefined;
      const m = await bus.jsm.streams.getMessage(stream, { seq: info.state.first_seq });
      return DeadLetterSchema.parse(JSON.parse(new TextDecoder().decode(m!.data)));
    });
    expect(letter.reason).toMatch(/job job-foreign reported artefacts outside its own folder/);
    expect((await get('/models/mnist')).statusCode).toBe(404);
  });
});
