import uPlot from 'uplot';

/** One line of a chart: its label in the legend and its points (x ascending). */
export interface Series {
  label: string;
  points: readonly { x: number; y: number }[];
}

const PALETTE = ['#0b63ce', '#e0582f', '#2a9d4b', '#8e44ad', '#c99a06', '#16a2b8', '#d6336c', '#5c677d'];
export const colourOf = (i: number): string => PALETTE[i % PALETTE.length]!;

/** Four decimals for fractions and small numbers, whole numbers for large ones (samples/s). */
export const formatValue = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(4));

/**
 * A line chart with uPlot: real axes with the x and y labels, a legend that shows each series' value
 * under the cursor (the hover values), points where the series has them. Series with different x
 * values share one x axis (uPlot's aligned data); a missing point is a gap.
 */
export function lineChart(target: HTMLElement, series: readonly Series[], o: { title: string; xLabel: string; yLabel: string; width?: number; height?: number }): uPlot {
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p.x)))].sort((a, b) => a - b);
  const columns = series.map((s) => {
    const at = new Map(s.points.map((p) => [p.x, p.y]));
    return xs.map((x) => at.get(x) ?? null);
  });
  const opts: uPlot.Options = {
    title: o.title,
    width: o.width ?? Math.max(320, Math.min(720, target.clientWidth || 640)),
    height: o.height ?? 260,
    scales: { x: { time: false } },
    // Epochs and steps are whole numbers: ticks only at integers.
    axes: [{ label: o.xLabel, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, 10000] }, { label: o.yLabel, size: 60 }],
    // The legend is the hover readout: four decimals, enough to tell epochs of a good run apart.
    series: [{ label: o.xLabel }, ...series.map((s, i) => ({ label: s.label, stroke: colourOf(i), width: 2, points: { show: true, size: 5 }, spanGaps: true, value: (_u: uPlot, v: number | null) => (v === null ? '–' : formatValue(v)) }))],
    legend: { live: true },
  };
  return new uPlot(opts, [xs, ...columns] as uPlot.AlignedData, target);
}
