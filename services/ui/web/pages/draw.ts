import { api } from '../session';
import { mountShell } from '../shell';
// The drawing page: draw on the canvas and the answer follows as you draw (debounced, no button),
// pick a registered version (grouped by alias), see what it says and why, with the latency the
// gateway reports, and send a correction that becomes a labelled batch in the bucket.

type Prediction = { predictionId: string; model: string; version: number; class: number; probabilities: number[]; input28: number[]; latencyMs: number };
type Explanation = { saliency: number[][] };
type ModelVersion = { version: number; aliases: string[]; testAccuracy: number; transformedTestAccuracy?: number | null };

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const pad = $<HTMLCanvasElement>('pad');
const ctx = pad.getContext('2d') as CanvasRenderingContext2D;
const status = (text: string) => ($<HTMLParagraphElement>('status').textContent = text);
let last: Prediction | undefined;

function clearPad(): void {
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, pad.width, pad.height);
}

function setUpDrawing(): void {
  clearPad();
  ctx.strokeStyle = '#fff';
  ctx.lineWidth = 20;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  let drawing = false;
  const at = (e: PointerEvent) => {
    const r = pad.getBoundingClientRect();
    return [((e.clientX - r.left) * pad.width) / r.width, ((e.clientY - r.top) * pad.height) / r.height] as const;
  };
  pad.addEventListener('pointerdown', (e) => {
    drawing = true;
    const [x, y] = at(e);
    ctx.beginPath();
    ctx.moveTo(x, y);
  });
  pad.addEventListener('pointermove', (e) => {
    if (!drawing) return;
    const [x, y] = at(e);
    ctx.lineTo(x, y);
    ctx.stroke();
    inked = true;
    schedulePrediction(WHILE_DRAWING_MS);
  });
  const stop = () => {
    if (drawing && inked) schedulePrediction(AFTER_STROKE_MS);
    drawing = false;
  };
  pad.addEventListener('pointerup', stop);
  pad.addEventListener('pointerleave', stop);
}

async function loadModels(): Promise<void> {
  const select = $<HTMLSelectElement>('model');
  try {
    const { versions } = await api<{ versions: ModelVersion[] }>('/api/models/mnist');
    select.replaceChildren();
    // Grouped by alias: the champion first, then the challenger, then every other version, newest first.
    const groups: [string, ModelVersion[]][] = [
      ['champion', versions.filter((v) => v.aliases.includes('champion'))],
      ['challenger', versions.filter((v) => v.aliases.includes('challenger') && !v.aliases.includes('champion'))],
      ['other versions', versions.filter((v) => !v.aliases.length).sort((a, b) => b.version - a.version)],
    ];
    for (const [label, members] of groups) {
      if (!members.length) continue;
      const group = Object.assign(document.createElement('optgroup'), { label });
      for (const v of members) {
        const option = document.createElement('option');
        option.value = `mnist/${v.version}`;
        option.textContent = `mnist v${v.version}${v.aliases.length ? ` (${v.aliases.join(', ')})` : ''} — ${(v.testAccuracy * 100).toFixed(2)}%${v.transformedTestAccuracy != null ? `, transformed ${(v.transformedTestAccuracy * 100).toFixed(1)}%` : ''}`;
        if (v.aliases.includes('champion')) option.selected = true;
        group.append(option);
      }
      select.append(group);
    }
    status(versions.length ? 'Draw a digit: the answer follows as you draw.' : 'No model is registered yet: run the demo first.');
  } catch (err) {
    status(`Could not list models: ${(err as Error).message}`);
  }
}

function showBars(p: number[], top: number): void {
  const bars = $<HTMLDivElement>('bars');
  bars.innerHTML = '';
  p.forEach((v, i) => {
    const label = document.createElement('span');
    label.textContent = String(i);
    const bar = document.createElement('div');
    bar.className = i === top ? 'bar top' : 'bar';
    bar.style.width = `${Math.max(1, v * 100)}%`;
    const pct = document.createElement('span');
    pct.textContent = `${(v * 100).toFixed(1)}%`;
    bars.append(label, bar, pct);
  });
}

function showSeen(input: number[], saliency: number[][]): void {
  const seen = $<HTMLCanvasElement>('seen');
  const c = seen.getContext('2d') as CanvasRenderingContext2D;
  const img = c.createImageData(28, 28);
  input.forEach((v, i) => {
    const s = saliency[Math.floor(i / 28)]?.[i % 28] ?? 0;
    img.data.set([Math.min(255, v + s * 200), v * (1 - s * 0.6), v * (1 - s * 0.6), 255], i * 4);
  });
  const small = document.createElement('canvas');
  small.width = 28;
  small.height = 28;
  (small.getContext('2d') as CanvasRenderingContext2D).putImageData(img, 0, 0);
  c.imageSmoothingEnabled = false;
  c.drawImage(small, 0, 0, seen.width, seen.height);
}

/** Debounce while the pen moves (an answer about every quarter second), and soon after a stroke ends. */
const WHILE_DRAWING_MS = 250;
const AFTER_STROKE_MS = 60;
let inked = false;
let timer: ReturnType<typeof setTimeout> | undefined;
let inFlight = false;
let again = false;
/** Bumped by Clear: an answer to a drawing that is gone is dropped. */
let drawingId = 0;

function schedulePrediction(ms: number): void {
  clearTimeout(timer);
  timer = setTimeout(() => void predictLatest(), ms);
}

/** One request at a time: strokes that arrive meanwhile are sent as one more request when it returns. */
async function predictLatest(): Promise<void> {
  if (!inked || !$<HTMLSelectElement>('model').value) return;
  if (inFlight) {
    again = true;
    return;
  }
  inFlight = true;
  try {
    await predict();
  } finally {
    inFlight = false;
    if (again) {
      again = false;
      schedulePrediction(0);
    }
  }
}

async function predict(): Promise<void> {
  const asked = drawingId;
  status('Asking the model…');
  const image = pad.toDataURL('image/png');
  const model = $<HTMLSelectElement>('model').value;
  try {
    const [p, e] = await Promise.all([api<Prediction>('/api/predict', { model, image }), api<Explanation>('/api/explain', { model, image })]);
    if (asked !== drawingId) return;
    last = p;
    $<HTMLSpanElement>('answer').textContent = String(p.class);
    $<HTMLParagraphElement>('meta').textContent = `${p.model} v${p.version} · ${p.latencyMs.toFixed(1)} ms · prediction ${p.predictionId}`;
    showBars(p.probabilities, p.class);
    showSeen(p.input28, e.saliency);
    $<HTMLElement>('result').hidden = false;
    status('');
  } catch (err) {
    status(`Prediction failed: ${(err as Error).message}`);
  }
}

async function sendFeedback(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  if (!last) return;
  const label = Number($<HTMLSelectElement>('truth').value);
  const out = $<HTMLParagraphElement>('feedback-status');
  try {
    const r = await api<{ batch: string }>('/api/feedback', { pixels: last.input28, label, predictionId: last.predictionId });
    out.textContent = `Thanks: stored as ${r.batch}; it joins the training data once validated.`;
  } catch (err) {
    out.textContent = `Could not store the correction: ${(err as Error).message}`;
  }
}

const truth = $<HTMLSelectElement>('truth');
for (let d = 0; d <= 9; d++) truth.append(new Option(String(d), String(d)));
setUpDrawing();
$<HTMLButtonElement>('clear').addEventListener('click', () => {
  clearTimeout(timer);
  drawingId++;
  inked = false;
  last = undefined;
  clearPad();
  $<HTMLElement>('result').hidden = true;
  status('Draw a digit: the answer follows as you draw.');
});
$<HTMLButtonElement>('predict').addEventListener('click', () => void predictLatest());
// Another version answers the same drawing at once.
$<HTMLSelectElement>('model').addEventListener('change', () => schedulePrediction(0));
$<HTMLFormElement>('feedback').addEventListener('submit', (e) => void sendFeedback(e));
void mountShell().then(() => loadModels());
