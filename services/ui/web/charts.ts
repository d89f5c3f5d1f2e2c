import uPlot from 'uplot';

/** One line of a chart: its label in the legend and its points (x ascending). */
export interface Series {
  label: string;
  points: readonly { x: number; y: number }[];
}

const PALETTE = ['#0b63ce', '#e0582f', '#2a9d4b', '#8e44ad', '#c99a06', '#16a2b8', '#d6336c', '#5c677d'];
export const colourOf = (i: number): string => PALETTE[i % PALETTE.length]!;

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
    axes: [{ label: o.xLabel }, { label: o.yLabel, size: 60 }],
    series: [{ label: o.xLabel }, ...series.map((s, i) => ({ label: s.label, stroke: colourOf(i), width: 2, points: { show: true, size: 5 }, spanGaps: true }))],
    legend: { live: true },
  };
  return new uPlot(opts, [xs, ...columns] as uPlot.AlignedData, target);
}
