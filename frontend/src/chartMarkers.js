// Pure logic for the chart's marker overlay: one marker per step, close ones merged, and the
// marker nearest to a pointer. No DOM. Tested in test/chartMarkers.test.js.

import { worstSeverity } from "./filter.js";

/**
 * One marker per step (worst severity of the rows at that step), then neighbours closer
 * than `minGap` pixels merged into one. `toPx(step)` maps a step to a pixel.
 * @returns {{step: number, steps: number[], px: number, severity: string, muted: boolean, count: number}[]}
 */
export function clusterMarkers(rows, toPx, minGap = 8) {
  const byStep = new Map();
  for (const { d, muted } of rows) {
    const m = byStep.get(d.step) ?? { step: d.step, severities: [], allMuted: true };
    m.severities.push(d.severity);
    m.allMuted = m.allMuted && muted;
    byStep.set(d.step, m);
  }
  const clusters = [];
  for (const m of [...byStep.values()].sort((a, b) => a.step - b.step)) {
    const px = toPx(m.step);
    const last = clusters[clusters.length - 1];
    if (last && px - last.px < minGap) {
      last.steps.push(m.step);
      last.severities.push(...m.severities);
      last.muted = last.muted && m.allMuted;
    } else {
      clusters.push({ step: m.step, steps: [m.step], px, severities: [...m.severities], muted: m.allMuted });
    }
  }
  return clusters.map(({ severities, ...c }) => ({ ...c, severity: worstSeverity(severities), count: severities.length }));
}

/** Index of the value in sorted `values` nearest to `x`, or -1 when none is within `tolerance`. */
export function nearestIndex(values, x, tolerance = Infinity) {
  let lo = 0;
  let hi = values.length - 1;
  if (hi < 0) return -1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  const best = lo > 0 && x - values[lo - 1] <= values[lo] - x ? lo - 1 : lo;
  return Math.abs(values[best] - x) <= tolerance ? best : -1;
}
