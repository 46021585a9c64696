// Order-only evaluation: the motion set's classes come in pairs (2k, 2k+1) that differ only in the
// order of frames. Among the two classes of the true pair, is the true one scored higher? A model
// that cannot see order scores ~50 % here whatever its 10-way accuracy.

/** partner[c] = the class that is c's reversal: 2k ↔ 2k+1. `classes` must be even. */
export function labelsOfPairs(classes: number): Int32Array {
  if (!Number.isInteger(classes) || classes < 2 || classes % 2 !== 0) throw new RangeError(`labelsOfPairs: ${classes} classes do not form pairs`);
  const partner = new Int32Array(classes);
  for (let c = 0; c < classes; c++) partner[c] = c ^ 1;
  return partner;
}

/**
 * Counts, over a batch of N rows of `classes` scores (logits or probabilities), the rows whose true
 * class outscores its partner. A tie counts as wrong (a model blind to order ties exactly).
 */
export function orderOnlyCorrect(scores: ArrayLike<number>, labels: ArrayLike<number>, classes: number, partner: ArrayLike<number> = labelsOfPairs(classes)): number {
  let correct = 0;
  for (let n = 0; n < labels.length; n++) {
    const label = labels[n]!;
    if (scores[n * classes + label]! > scores[n * classes + partner[label]!]!) correct++;
  }
  return correct;
}
