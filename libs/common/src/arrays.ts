/**
 * A typed array's values as a plain array. `Array.from(typedArray)` goes through the iterator
 * protocol in V8 (Node 20): for 784 bytes it took 24 µs and allocated an object per element, where
 * this loop takes 2 µs. On the serving path that was a tenth of a request.
 */
export function toNumberArray(values: ArrayLike<number>): number[] {
  const out = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] as number;
  return out;
}
