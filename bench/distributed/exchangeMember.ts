/**
 * One member of the synthetic coordinator-reduce exchange (bench/distributed/exchange.ts starts one
 * per host, inside the host's network namespace). It speaks the trainer's wire format with the
 * trainer's own code (frames.ts: split into parts at the server's limit; frameSeal.ts: HMAC per
 * frame; gradientCodec.ts: f32/f16/top-k, and meanOfSums, the float64 reduction), but computes
 * nothing: a "gradient" is random numbers of the model's size, so what is timed is the exchange.
 *
 * Rank 0 coordinates: it sends step s (with the mean of step s-1), waits for every other member's
 * gradient of step s, reduces, and goes on; after `steps` it prints one JSON line of timings.
 * With scheme `ring` there is no coordinator: every member runs the trainer's ring all-reduce
 * (adapters/ringExchange.ts: reduce-scatter then all-gather to its right neighbour) step after step,
 * and rank 0 times each all-reduce (float32 only; compression is not part of the ring).
 * Usage (by exchange.ts): exchangeMember.ts <natsUrl> <subjectPrefix> <rank> <members> <floats> <compression> <steps> [coordinator|ring]
 */
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { decodeGradient, encodeDense, meanOfSums, TopKCompressor, type EncodedGradient, type Encoding } from '../../services/trainer/src/core/gradientCodec';
import { encodeFrames, Reassembler } from '../../services/trainer/src/core/frames';
import { seal, unseal } from '../../services/trainer/src/core/frameSeal';
import { RingExchange } from '../../services/trainer/src/adapters/ringExchange';

const [url, prefix, rankArg, membersArg, floatsArg, compression, stepsArg, scheme = 'coordinator'] = process.argv.slice(2) as [string, string, string, string, string, 'none' | 'fp16' | 'topk', string, string?];
const rank = Number(rankArg);
const members = Number(membersArg);
const floats = Number(floatsArg);
const steps = Number(stepsArg);
// Every member derives the same key: the bench is not about secrecy, only about paying for the seal.
const key = new Uint8Array(32).fill(7);

const nc = await connect({ servers: url, name: `exchange-${rank}`, maxReconnectAttempts: -1 });
const maxPart = nc.info?.max_payload ? nc.info.max_payload - 1024 : 1024 * 1024 - 1024;
const gradient = Float32Array.from({ length: floats }, () => Math.random() - 0.5);
const topk = new TopKCompressor(0.01);
const encode = (g: Float32Array): EncodedGradient => (compression === 'topk' ? topk.encode(g) : encodeDense(g, compression === 'fp16' ? 'f16' : 'f32'));

function send(subject: string, meta: Record<string, unknown>, e: EncodedGradient): number {
  let bytes = 0;
  for (const f of encodeFrames(randomBytes(6).toString('hex'), { ...meta, encoding: e.encoding }, e.bytes, maxPart)) {
    const sealed = seal(key, subject, f);
    bytes += sealed.byteLength;
    nc.publish(subject, sealed);
  }
  return bytes;
}

/** Calls `on` with each whole message on `subject` (parts reassembled, seals checked). */
function receive(subject: string, on: (meta: Record<string, unknown>, payload: Uint8Array) => void): void {
  const parts = new Reassembler();
  nc.subscribe(subject, {
    callback: (_err, msg) => {
      const frame = unseal(key, subject, msg.data);
      if (!frame) throw new Error('a frame without a valid seal');
      const whole = parts.add(frame);
      if (whole) on(whole.meta, whole.payload);
    },
  });
}

const ctl = `${prefix}.ctl`;
const grad = `${prefix}.grad`;
const ready = `${prefix}.ready`;

const median = (times: number[]) => [...times].slice(Math.min(3, times.length - 1)).sort((a, b) => a - b);

if (scheme === 'ring') {
  const names = Array.from({ length: members }, (_, k) => `m${k}`);
  const ring = new RingExchange({ nc, base: `${prefix}.ring`, generation: 1, member: names[rank]!, key, maxPartBytes: maxPart, timeoutMs: 60_000 });
  await ring.open();
  await ring.handshake(names, 60_000);
  const times: number[] = [];
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    await ring.allReduce({ step: s, members: names, gradientSum: gradient, count: members });
    times.push(performance.now() - t0);
  }
  if (rank === 0) {
    const sorted = median(times);
    console.log(JSON.stringify({ steps, medianStepMs: sorted[Math.floor(sorted.length / 2)], meanStepMs: sorted.reduce((a, b) => a + b, 0) / sorted.length, reduceMsPerStep: 0, bytesOutPerStep: ring.bytesSent / steps }));
  }
  // The last all-gather chunk of a neighbour may still be on its way: let it arrive before leaving.
  await new Promise((r) => setTimeout(r, 500));
  await nc.drain();
} else if (rank === 0) {
  let waiting: ((g: Float32Array[]) => void) | undefined;
  // By rank, so a gradient sent again (after a step was announced again) counts once.
  let received = new Map<number, Float32Array>();
  let expectStep = 0;
  receive(grad, (meta, payload) => {
    if (meta.step !== expectStep || received.has(Number(meta.rank))) return;
    received.set(Number(meta.rank), decodeGradient({ encoding: meta.encoding as Encoding, bytes: payload }, floats));
    if (received.size === members - 1 && waiting) waiting([...received.entries()].sort((a, b) => a[0] - b[0]).map(([, g]) => g));
  });
  // Every other member subscribed (it answers a hello) before the clock starts.
  const seen = new Set<string>();
  nc.subscribe(ready, { callback: (_e, m) => void seen.add(new TextDecoder().decode(m.data)) });
  while (seen.size < members - 1) {
    nc.publish(`${prefix}.hello`);
    await new Promise((r) => setTimeout(r, 200));
  }
  let mean = encode(gradient);
  let bytesOut = 0;
  let reduceMs = 0;
  const times: number[] = [];
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    expectStep = s;
    received = new Map();
    const all = new Promise<Float32Array[]>((resolve) => (waiting = resolve));
    bytesOut += send(ctl, { step: s }, mean);
    // A member the server cut off as a slow consumer (a loaded machine) lost the step: announce it again.
    const again = setInterval(() => send(ctl, { step: s }, mean), 5000);
    const others = members > 1 ? await all : [];
    clearInterval(again);
    const r0 = performance.now();
    const own = decodeGradient(encode(gradient), floats);
    const reduced = meanOfSums([own, ...others], members);
    mean = compression === 'none' ? encodeDense(reduced, 'f32') : encodeDense(reduced, 'f16');
    reduceMs += performance.now() - r0;
    times.push(performance.now() - t0);
  }
  send(ctl, { step: -1 }, mean);
  await nc.flush();
  const sorted = median(times);
  console.log(JSON.stringify({ steps, medianStepMs: sorted[Math.floor(sorted.length / 2)], meanStepMs: sorted.reduce((a, b) => a + b, 0) / sorted.length, reduceMsPerStep: reduceMs / steps, bytesOutPerStep: bytesOut / steps }));
  await nc.drain();
} else {
  let done: () => void = () => undefined;
  const finished = new Promise<void>((r) => (done = r));
  receive(ctl, (meta, payload) => {
    if (meta.step === -1) return done();
    // Decoding the mean is part of a member's step, as in the trainer.
    decodeGradient({ encoding: meta.encoding as Encoding, bytes: payload }, floats);
    send(grad, { step: meta.step, rank }, encode(gradient));
  });
  nc.subscribe(`${prefix}.hello`, { callback: () => nc.publish(ready, new TextEncoder().encode(String(rank))) });
  await finished;
  await nc.drain();
}
process.exit(0);
