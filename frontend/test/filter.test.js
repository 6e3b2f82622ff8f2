import assert from "node:assert/strict";
import { test } from "node:test";
import {
  allFilters, checkStats, clusterMarkers, compareCell, diagnosticKeys, diffSections, nearestIndex,
  rowsSummary, severityCounts, visibleRows, worstSeverity,
} from "../src/filter.js";

const d = (check, step, severity) => ({ check, step, severity });
const sample = [
  d("input_not_normalized", 0, "warning"),
  d("nan_loss", 312, "error"),
  d("nan_loss", 312, "error"),
  d("overfitting", 400, "warning"),
  d("tip", 500, "info"),
];

test("keys are stable and unique", () => {
  assert.deepEqual(diagnosticKeys(sample), [
    "input_not_normalized@0", "nan_loss@312", "nan_loss@312#2", "overfitting@400", "tip@500",
  ]);
});

test("worst severity", () => {
  assert.equal(worstSeverity(["info", "error", "warning"]), "error");
  assert.equal(worstSeverity(["info", "warning"]), "warning");
  assert.equal(worstSeverity([]), null);
});

test("filters by severity and check; mutes dim but never hide", () => {
  const filters = allFilters();
  let v = visibleRows(sample, filters, new Set());
  assert.equal(v.rows.length, 5);
  assert.equal(v.muted, 0);

  v = visibleRows(sample, filters, new Set(["nan_loss"]));
  assert.equal(v.rows.length, 5);
  assert.equal(v.muted, 2);
  assert.deepEqual(v.rows.filter((r) => r.muted).map((r) => r.key), ["nan_loss@312", "nan_loss@312#2"]);
  assert.equal(rowsSummary(v), "Showing 5 of 5 · 2 muted");

  filters.severities.delete("warning");
  v = visibleRows(sample, filters, new Set());
  assert.deepEqual(v.rows.map((r) => r.d.check), ["nan_loss", "nan_loss", "tip"]);
  assert.equal(v.filteredOut, 2);
  assert.equal(rowsSummary(v), "Showing 3 of 5 · 2 hidden by filters");

  v = visibleRows(sample, { severities: new Set(["error", "warning", "info"]), check: "overfitting" }, new Set());
  assert.deepEqual(v.rows.map((r) => r.key), ["overfitting@400"]);
});

test("keys do not depend on filters", () => {
  const v = visibleRows(sample, { severities: new Set(["error"]), check: "" }, new Set());
  assert.deepEqual(v.rows.map((r) => r.key), ["nan_loss@312", "nan_loss@312#2"]);
});

test("check stats and severity counts", () => {
  assert.deepEqual(checkStats(sample).map((s) => [s.check, s.count, s.severity]), [
    ["input_not_normalized", 1, "warning"], ["nan_loss", 2, "error"], ["overfitting", 1, "warning"], ["tip", 1, "info"],
  ]);
  assert.deepEqual(severityCounts(sample), { error: 2, warning: 2, info: 1 });
});

test("markers: one per step, close ones merged, worst severity wins", () => {
  const rows = visibleRows(sample, allFilters(), new Set(["overfitting"])).rows;
  const wide = clusterMarkers(rows, (s) => s, 8);
  assert.deepEqual(wide.map((m) => [m.step, m.severity, m.count, m.muted]), [
    [0, "warning", 1, false], [312, "error", 2, false], [400, "warning", 1, true], [500, "info", 1, false],
  ]);
  const narrow = clusterMarkers(rows, (s) => s / 100, 8);
  assert.equal(narrow.length, 1);
  assert.deepEqual(narrow[0].steps, [0, 312, 400, 500]);
  assert.equal(narrow[0].severity, "error");
  assert.equal(narrow[0].count, 5);
});

test("nearest index with tolerance", () => {
  const xs = [10, 50, 52, 300];
  assert.equal(nearestIndex(xs, 12), 0);
  assert.equal(nearestIndex(xs, 51), 1);
  assert.equal(nearestIndex(xs, 51.5), 2);
  assert.equal(nearestIndex(xs, 1000), 3);
  assert.equal(nearestIndex(xs, 200, 10), -1);
  assert.equal(nearestIndex(xs, 295, 10), 3);
  assert.equal(nearestIndex([], 5), -1);
});

test("compare cells and diff sections", () => {
  assert.equal(compareCell(null), null);
  const cell = compareCell({ step: 312, epoch: 1, severity: "error", count: 3 });
  assert.equal(cell.text, "step 312");
  assert.equal(cell.severity, "error");
  assert.match(cell.title, /first error at step 312, epoch 1; 3 times/);
  const sections = diffSections({ fixed: ["nan_loss"], still_present: ["input_not_normalized"], new: [] });
  assert.deepEqual(sections.map((s) => [s.testid, s.label, s.checks]), [
    ["diff-fixed", "Fixed", ["nan_loss"]],
    ["diff-still", "Still present", ["input_not_normalized"]],
    ["diff-new", "New", []],
  ]);
});
