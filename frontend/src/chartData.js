// Pure chart data shaping for uPlot. Tested in test/chartData.test.js.

import { formatInt } from "./format.js";

/** Which y axis a curve belongs on: accuracies on the right ("acc"), the rest (losses) on the left. */
export function axisFor(name) {
  return /acc/i.test(name) ? "acc" : "loss";
}

/**
 * Series with different steps, aligned on one x axis for uPlot.
 * A step a series lacks becomes `undefined` (uPlot draws across it); a null value stays
 * null (uPlot draws a gap: the loss was NaN/Inf there).
 * `extraXs` (diagnostics' steps) are added to the x axis so that markers stay in range.
 * @param {{name: string, points: [number, number|null][]}[]} series
 * @param {number[]} [extraXs]
 * @returns {{xs: number[], names: string[], ys: (number|null|undefined)[][]}}
 */
export function alignSeries(series, extraXs = []) {
  const usable = (series ?? []).filter((s) => Array.isArray(s.points) && s.points.length > 0);
  const steps = usable.flatMap((s) => s.points.map((p) => p[0])).concat(extraXs);
  const xs = [...new Set(steps)].filter(Number.isFinite).sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = usable.map((s) => {
    const column = new Array(xs.length).fill(undefined);
    for (const [x, y] of s.points) column[index.get(x)] = Number.isFinite(y) ? y : null;
    return column;
  });
  return { xs, names: usable.map((s) => s.name), ys };
}

/**
 * uPlot's distribution for the loss axis: logarithmic (3) when the finite loss values are all
 * positive and span 4 decades or more (a loss going from 1.4 to 4e21 is a flat line at 0 on a
 * linear axis), else linear (1).
 * @param {{names: string[], ys: (number|null|undefined)[][]}} aligned
 */
export function lossDistribution(aligned) {
  const values = aligned.names.flatMap((name, i) => (axisFor(name) === "loss" ? aligned.ys[i] : []))
    .filter(Number.isFinite);
  if (!values.length || values.some((v) => v <= 0)) return 1;
  return Math.max(...values) / Math.min(...values) >= 1e4 ? 3 : 1;
}

/** Sort order for legend and colours: loss, val_loss, then accuracies, then the rest by name. */
export function seriesOrder(a, b) {
  const rank = (n) => (axisFor(n) === "loss" ? 0 : 1) * 2 + (n.startsWith("val_") ? 1 : 0);
  return rank(a.name) - rank(b.name) || a.name.localeCompare(b.name);
}

/** Notes for curves with unplottable (NaN/Inf) values: "loss: not a finite number from step 49 (3 points)". */
export function gapNotes(series) {
  return (series ?? []).flatMap((s) => {
    const bad = (s.points ?? []).filter((p) => !Number.isFinite(p[1]));
    if (!bad.length) return [];
    const n = bad.length === 1 ? "1 point" : `${bad.length} points`;
    const all = bad.length === s.points.length ? ", so it is not drawn" : "";
    return [`${s.name}: not a finite number (NaN/Inf) from step ${formatInt(bad[0][0])} (${n})${all}`];
  });
}
