import type { TrainJobCompleted } from '@mlpipe/contracts';

/** A short human-readable card stored beside the weights. */
export function renderModelCard(c: Omit<TrainJobCompleted, 'artefacts'>): string {
  const perClass = c.evaluation.perClassAccuracy.map((a, i) => `| ${i} | ${(a * 100).toFixed(2)}% |`).join('\n');
  const last = c.history.at(-1);
  return `# ${c.modelName} — job ${c.jobId}

- architecture: ${c.hyperparams.arch}; epochs ${c.hyperparams.epochs}, batch ${c.hyperparams.batchSize}, learning rate ${c.hyperparams.learningRate}, seed ${c.hyperparams.seed}
- data: ${c.dataset} version ${c.datasetVersion.slice(0, 12)}, ${c.trainSamples} train samples; tested on ${c.evaluation.testSamples}
- backend: ${c.backend}; code version ${c.codeVersion}; trained in ${c.durationSec.toFixed(1)} s
- test accuracy: ${(c.evaluation.testAccuracy * 100).toFixed(2)}%${last?.valAccuracy !== undefined ? `; last validation accuracy ${(last.valAccuracy * 100).toFixed(2)}%` : ''}

| class | test accuracy |
|---|---|
${perClass}

Intended use: classifying 28×28 greyscale digits (white ink on black), preprocessed like MNIST.
`;
}
