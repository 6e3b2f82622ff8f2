import assert from "node:assert/strict";
import { test } from "node:test";
import { compareCell, diffSections } from "../src/compareCells.js";

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

test("compare cell: a missing count is one, and one occurrence says no 'times'", () => {
  const cell = compareCell({ step: 7, epoch: 0, severity: "warning" });
  assert.equal(cell.count, 1);
  assert.equal(cell.title, "first warning at step 7, epoch 0");
});

test("compare cell: no epoch when the diagnostic has none, large numbers grouped", () => {
  for (const epoch of [null, undefined]) {
    const cell = compareCell({ step: 12345, epoch, severity: "info", count: 2000 });
    assert.equal(cell.text, "step 12,345");
    assert.equal(cell.title, "first info at step 12,345; 2,000 times in all");
  }
});

test("diff sections: a missing diff gives three empty sections, in display order", () => {
  for (const diff of [undefined, null, {}]) {
    const sections = diffSections(diff);
    assert.deepEqual(sections.map((s) => s.id), ["fixed", "still", "new"]);
    assert.ok(sections.every((s) => Array.isArray(s.checks) && s.checks.length === 0));
  }
});
