// Pure logic over diagnostics: keys, filters, mutes, check counts, markers, compare cells.
// No DOM. Tested in test/filter.test.js.

import { SEVERITIES, formatInt as fmt } from "./format.js";

const RANK = { info: 0, warning: 1, error: 2 };

/** The more severe of a list of severities (unknown ones count as info). */
export function worstSeverity(severities) {
  let worst = null;
  for (const s of severities) {
    if (worst === null || (RANK[s] ?? 0) > (RANK[worst] ?? 0)) worst = s;
  }
  return worst;
}

/** Stable keys, one per diagnostic: "nan_loss@312", then "nan_loss@312#2" for a repeat. */
export function diagnosticKeys(diagnostics) {
  const seen = new Map();
  return diagnostics.map((d) => {
    const base = `${d.check}@${d.step}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base}#${n}`;
  });
}

/** Severity filter that shows everything. */
export function allFilters() {
  return { severities: new Set(SEVERITIES), check: "" };
}

/** True when a diagnostic passes the severity and check filters (mutes do not hide). */
export function passesFilters(d, filters) {
  const sev = SEVERITIES.includes(d.severity) ? d.severity : "info";
  return filters.severities.has(sev) && (!filters.check || filters.check === d.check);
}

/**
 * The rows to list, in order, and what was left out.
 * Muted diagnostics stay in `rows` (flagged), and are counted in `muted`.
 * @returns {{rows: {d: object, key: string, muted: boolean}[], total: number, muted: number, filteredOut: number}}
 */
export function visibleRows(diagnostics, filters, muted) {
  const keys = diagnosticKeys(diagnostics);
  const rows = [];
  let mutedCount = 0;
  diagnostics.forEach((d, i) => {
    if (!passesFilters(d, filters)) return;
    const isMuted = muted.has(d.check);
    if (isMuted) mutedCount += 1;
    rows.push({ d, key: keys[i], muted: isMuted });
  });
  return {
    rows,
    total: diagnostics.length,
    muted: mutedCount,
    filteredOut: diagnostics.length - rows.length,
  };
}

/** "Showing 120 of 2,000 · 2 muted · 1,880 hidden by filters". */
export function rowsSummary({ rows, total, muted, filteredOut }) {
  const parts = [`Showing ${fmt(rows.length)} of ${fmt(total)}`];
  if (muted) parts.push(`${fmt(muted)} muted`);
  if (filteredOut) parts.push(`${fmt(filteredOut)} hidden by filters`);
  return parts.join(" · ");
}

/** Per check: how many diagnostics and the worst severity, sorted by check id. */
export function checkStats(diagnostics) {
  const stats = new Map();
  for (const d of diagnostics) {
    const s = stats.get(d.check) ?? { check: d.check, count: 0, severity: null };
    s.count += 1;
    s.severity = worstSeverity([s.severity ?? d.severity, d.severity]);
    stats.set(d.check, s);
  }
  return [...stats.values()].sort((a, b) => a.check.localeCompare(b.check));
}

/** Counts per severity: {error: 1, warning: 0, info: 3}. */
export function severityCounts(diagnostics) {
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0]));
  for (const d of diagnostics) counts[d.severity in counts ? d.severity : "info"] += 1;
  return counts;
}

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

/** A compare-matrix cell: {text: "step 312", severity, count, title} or null for "—". */
export function compareCell(first) {
  if (!first) return null;
  const count = first.count ?? 1;
  const epoch = first.epoch === null || first.epoch === undefined ? "" : `, epoch ${first.epoch}`;
  const times = count > 1 ? `; ${fmt(count)} times in all` : "";
  return {
    text: `step ${fmt(first.step)}`,
    severity: first.severity,
    count,
    title: `first ${first.severity} at step ${fmt(first.step)}${epoch}${times}`,
  };
}

/** The three sections of a two-run diff, in display order. */
export function diffSections(diff) {
  return [
    { id: "fixed", testid: "diff-fixed", label: "Fixed", hint: "in the baseline, gone now", checks: diff?.fixed ?? [] },
    { id: "still", testid: "diff-still", label: "Still present", hint: "in both runs", checks: diff?.still_present ?? [] },
    { id: "new", testid: "diff-new", label: "New", hint: "not in the baseline", checks: diff?.new ?? [] },
  ];
}
