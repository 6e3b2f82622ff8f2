import assert from "node:assert/strict";
import { test } from "node:test";
import {
  allFilters, checkStats, diagnosticKeys, rowsSummary, severityCounts, visibleRows, worstSeverity,
} from "../src/filter.js";
import { sample } from "./sampleDiagnostics.js";

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
