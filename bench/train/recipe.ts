/** The recipe every entry trains with, PyTorch's included (torch_bench.py has the same defaults). */
export const RECIPE = Object.freeze({
  batchSize: 64,
  learningRate: 0.003,
  optimizer: 'adam',
  /** Samples between evaluations on the whole MNIST test set; the clock is paused while they run. */
  evalEverySamples: 6400,
  testSamples: 10_000,
  seed: 1,
});

export const TARGETS = [0.985, 0.99, 0.994] as const;
