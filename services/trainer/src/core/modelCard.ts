import { ARTEFACTS, type OnnxExport, type TrainJobCompleted } from '@mlpipe/contracts';

/** A short human-readable card stored beside the weights. */
export function renderModelCard(c: Omit<TrainJobCompleted, 'artefacts'>): string {
  const perClass = c.evaluation.perClassAccuracy.map((a, i) => `| ${i} | ${(a * 100).toFixed(2)}% |`).join('\n');
  const last = c.history.at(-1);
  const hp = c.hyperparams;
  const schedule = hp.lrSchedule === 'constant' ? 'constant rate' : `${hp.lrSchedule} schedule`;
  const augment = hp.augment ? `augmented (±${hp.augment.rotateDeg}°, ±${hp.augment.shiftPx} px, ±${Math.round(hp.augment.scale * 100)}% size, strokes ${Math.round(hp.augment.strokeProb * 100)}%)` : 'not augmented';
  const transformed = c.evaluation.transformedTestAccuracy;
  return `# ${c.modelName} — job ${c.jobId}

- architecture: ${hp.arch}; epochs ${hp.epochs}, batch ${hp.batchSize}, ${hp.optimizer} at learning rate ${hp.learningRate} (${schedule}), seed ${hp.seed}; data ${augment}
- data: ${c.dataset} version ${c.datasetVersion.slice(0, 12)}, ${c.trainSamples} train samples; tested on ${c.evaluation.testSamples}
- backend: ${c.backend}; code version ${c.codeVersion}; trained in ${c.durationSec.toFixed(1)} s
- test accuracy: ${(c.evaluation.testAccuracy * 100).toFixed(2)}%${last?.valAccuracy !== undefined ? `; last validation accuracy ${(last.valAccuracy * 100).toFixed(2)}%` : ''}
- transformed test accuracy (rotated, shifted, rescaled, thicker and thinner strokes): ${transformed === undefined ? 'not measured' : `${(transformed * 100).toFixed(2)}%`}
- ONNX: ${onnxLine(c.onnx)}

| class | test accuracy |
|---|---|
${perClass}

Intended use: classifying 28×28 greyscale digits (white ink on black), preprocessed like MNIST.
`;
}

/** What the card says about model.onnx: where it is and how well it matched, or why there is none. */
function onnxLine(onnx: OnnxExport | undefined): string {
  if (!onnx) return 'not exported';
  if (onnx.status === 'absent') return `none: ${onnx.reason}`;
  return `${ARTEFACTS.onnx.file} (opset ${onnx.opset}; input \`image\` float32 NHWC [N,28,28,1] in [0,1], output \`probabilities\` [N,10]); matches tfjs within ${onnx.maxAbsDiff.toExponential(1)} on ${onnx.samples} test images (tolerance ${onnx.tolerance})`;
}
