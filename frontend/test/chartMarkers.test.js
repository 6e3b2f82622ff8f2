import assert from "node:assert/strict";
import { test } from "node:test";
import { clusterMarkers, nearestIndex } from "../src/chartMarkers.js";
import { allFilters, visibleRows } from "../src/filter.js";
import { d, sample } from "./sampleDiagnostics.js";

const row = (step, severity, muted = false) => ({ d: d("some_check", step, severity), muted });

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

test("markers: no rows, no markers", () => {
  assert.deepEqual(clusterMarkers([], (s) => s), []);
});

test("markers: sorted by step whatever the row order, at the pixel of their first step", () => {
  const rows = [row(30, "info"), row(10, "warning"), row(20, "error")];
  const markers = clusterMarkers(rows, (s) => s * 2, 8);
  assert.deepEqual(markers.map((m) => [m.step, m.px]), [[10, 20], [20, 40], [30, 60]]);
});

test("markers: a gap of exactly minGap pixels keeps two markers, a smaller one merges them", () => {
  assert.equal(clusterMarkers([row(0, "info"), row(8, "info")], (s) => s, 8).length, 2);
  assert.equal(clusterMarkers([row(0, "info"), row(7, "info")], (s) => s, 8).length, 1);
});

test("markers: a cluster is anchored at its first marker, so a chain of close steps does not collapse into one", () => {
  const rows = [0, 6, 12, 18].map((step) => row(step, "info"));
  const markers = clusterMarkers(rows, (s) => s, 8);
  assert.deepEqual(markers.map((m) => m.steps), [[0, 6], [12, 18]]);
  assert.deepEqual(markers.map((m) => m.px), [0, 12]);
});

test("markers: muted only when every row under them is muted", () => {
  const sameStep = clusterMarkers([row(5, "error", true), row(5, "info", false)], (s) => s);
  assert.equal(sameStep.length, 1);
  assert.equal(sameStep[0].muted, false);
  assert.equal(sameStep[0].count, 2);
  const merged = clusterMarkers([row(5, "error", true), row(6, "info", true)], (s) => s);
  assert.equal(merged.length, 1);
  assert.equal(merged[0].muted, true);
  assert.equal(merged[0].severity, "error");
});

test("markers: the step-to-pixel mapping runs once per distinct step", () => {
  const seen = [];
  const rows = [row(1, "info"), row(1, "error"), row(2, "info"), row(2, "info"), row(900, "warning")];
  clusterMarkers(rows, (s) => (seen.push(s), s));
  assert.deepEqual(seen, [1, 2, 900]);
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

test("nearest index: before the first value, a single value, and the tolerance is inclusive", () => {
  assert.equal(nearestIndex([10, 20], -50), 0);
  assert.equal(nearestIndex([7], 7), 0);
  assert.equal(nearestIndex([7], 100, 93), 0);
  assert.equal(nearestIndex([7], 100, 92.9), -1);
  assert.equal(nearestIndex([10, 20], 15), 0, "a tie goes to the earlier value");
});
