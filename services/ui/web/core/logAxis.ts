// Ticks for a log-scale axis (the sweeps scatter's learning rates), without the DOM. uPlot's own
// labels round rates like 1e-5 to "0" and its minor grid draws nine lines a decade; one tick per
// decade, labelled so small rates stay readable, says more. Unit-tested in test/logAxis.test.ts.

/** The powers of ten within [min, max] (the range uPlot gave the scale). */
export function decadeTicks(min: number, max: number): number[] {
  if (!(min > 0) || !(max >= min)) return [];
  const ticks: number[] = [];
  // A hair of slack: the scale's ends are often decades computed in floating point.
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    const v = Number(`1e${e}`);
    if (v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9)) ticks.push(v);
  }
  return ticks;
}

/** A decade's label: 0.001 and up as decimals, smaller ones as 1e-4, 1e-7. */
export function decadeLabel(v: number): string {
  return v >= 1e-3 ? String(v) : v.toExponential(0);
}
