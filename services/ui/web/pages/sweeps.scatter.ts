import uPlot from 'uplot';
import { decadeLabel, decadeTicks } from '../core/logAxis';

/** One point of a scatter: where, what the legend calls it, and its colour. */
export interface ScatterPoint {
  x: number;
  y: number;
  label: string;
  colour: string;
}

/**
 * A scatter plot with uPlot (the foundation's chart library): one series per point, drawn as a dot
 * with no line, so the legend names each trial and shows its value under the cursor. `categories`
 * labels the x ticks of a categorical hyperparameter (x is then the category's index); `log` puts
 * x on a log scale (learning rates).
 */
export function scatterChart(target: HTMLElement, points: readonly ScatterPoint[], o: { title: string; xLabel: string; yLabel: string; categories?: readonly string[]; log?: boolean }): uPlot {
  const xs = [...new Set(points.map((p) => p.x))].sort((a, b) => a - b);
  const columns = points.map((p) => xs.map((x) => (x === p.x ? p.y : null)));
  const categories = o.categories;
  const opts: uPlot.Options = {
    title: o.title,
    width: Math.max(320, Math.min(640, target.clientWidth || 560)),
    height: 260,
    scales: { x: { time: false, ...(o.log ? { distr: 3 } : {}), ...(categories ? { range: [-0.5, categories.length - 0.5] as uPlot.Range.MinMax } : {}) }, y: { range: [0, 1] } },
    axes: [
      {
        label: o.xLabel,
        ...(categories ? { splits: () => categories.map((_, i) => i), values: (_u: uPlot, ticks: number[]) => ticks.map((t) => categories[t] ?? '') } : {}),
        // A tick a decade, every one labelled (uPlot's log filter would blank some, which reach `values` as null).
        ...(o.log && !categories
          ? {
              splits: (_u: uPlot, _axis: number, min: number, max: number) => decadeTicks(min, max),
              filter: (_u: uPlot, splits: number[]) => splits,
              values: (_u: uPlot, ticks: (number | null)[]) => ticks.map((t) => (t === null ? '' : decadeLabel(t))),
            }
          : {}),
      },
      { label: o.yLabel, size: 60, values: (_u: uPlot, ticks: number[]) => ticks.map((t) => `${(t * 100).toFixed(0)}%`) },
    ],
    series: [
      { label: o.xLabel },
      ...points.map((p) => ({ label: p.label, stroke: p.colour, fill: p.colour, paths: () => null, points: { show: true, size: 9, fill: p.colour } })),
    ],
    legend: { live: true },
  };
  return new uPlot(opts, [xs, ...columns] as uPlot.AlignedData, target);
}
