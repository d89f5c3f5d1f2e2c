export interface Evaluation {
  accuracy: number;
  perClassAccuracy: number[];
  confusionMatrix: number[][];
  count: number;
}

/** Confusion matrix (rows: true class, columns: predicted) and accuracies from label pairs. */
export function tally(trueLabels: ArrayLike<number>, predicted: ArrayLike<number>, classes = 10): Evaluation {
  if (trueLabels.length !== predicted.length) throw new Error('label arrays differ in length');
  const confusionMatrix = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let correct = 0;
  for (let i = 0; i < trueLabels.length; i++) {
    const t = trueLabels[i] as number;
    const p = predicted[i] as number;
    (confusionMatrix[t] as number[])[p] = ((confusionMatrix[t] as number[])[p] as number) + 1;
    if (t === p) correct++;
  }
  const perClassAccuracy = confusionMatrix.map((row, c) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total ? (row[c] as number) / total : 0;
  });
  const count = trueLabels.length;
  return { accuracy: count ? correct / count : 0, perClassAccuracy, confusionMatrix, count };
}
