// Pure logic over diagnostics: keys, severity ranking, filters, mutes, check counts.
// No DOM. Tested in test/filter.test.js. Chart markers live in chartMarkers.js, compare cells
// in compareCells.js.

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
