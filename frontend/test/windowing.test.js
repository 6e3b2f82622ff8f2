import assert from "node:assert/strict";
import { test } from "node:test";
import { rowAt, rowOffsets, scrollTarget, typicalHeight, visibleWindow } from "../src/windowing.js";

const uniform = (n, px) => rowOffsets(new Array(n).fill(px));

test("offsets are the prefix sums of the heights; a negative height counts as 0", () => {
  assert.deepEqual([...rowOffsets([10, 20, 5])], [0, 10, 30, 35]);
  assert.deepEqual([...rowOffsets([])], [0]);
  assert.deepEqual([...rowOffsets([10, -4, 3])], [0, 10, 10, 13]);
});

test("rowAt finds the row containing a y, clamped to the list", () => {
  const offsets = rowOffsets([10, 20, 5]); // rows at 0, 10, 30; end 35
  assert.equal(rowAt(offsets, 0), 0);
  assert.equal(rowAt(offsets, 9.9), 0);
  assert.equal(rowAt(offsets, 10), 1);
  assert.equal(rowAt(offsets, 29), 1);
  assert.equal(rowAt(offsets, 30), 2);
  assert.equal(rowAt(offsets, 1000), 2);
  assert.equal(rowAt(offsets, -50), 0);
  assert.equal(rowAt(rowOffsets([]), 0), -1);
});

test("rowAt skips zero-height rows to the last row starting at or before y", () => {
  const offsets = rowOffsets([10, 0, 0, 10]); // rows 1 and 2 are empty at y=10
  assert.equal(rowAt(offsets, 10), 3);
  assert.equal(rowAt(offsets, 5), 0);
});

test("the window of a viewport in the middle of 2,000 rows covers it, and the padding accounts for the rest", () => {
  const offsets = uniform(2000, 38);
  const win = visibleWindow(offsets, 38 * 1000 + 5, 38 * 1000 + 5 + 760, 0);
  assert.equal(win.start, 1000);
  assert.equal(win.end, 1021); // rows 1000..1020: the 5 px into row 1000 leave row 1020 partly in view
  assert.equal(win.before, 38 * 1000);
  assert.equal(win.after, 38 * (2000 - 1021));
  assert.equal(win.before + (win.end - win.start) * 38 + win.after, offsets[2000]);
});

test("overscan widens the window on both sides, within the list", () => {
  const offsets = uniform(100, 10);
  const plain = visibleWindow(offsets, 500, 600, 0);
  const wide = visibleWindow(offsets, 500, 600, 55);
  assert.equal(plain.start, 50);
  assert.equal(plain.end, 60);
  assert.equal(wide.start, 44);
  assert.equal(wide.end, 66);
  const atTop = visibleWindow(offsets, 0, 100, 1000);
  assert.equal(atTop.start, 0);
  assert.equal(atTop.end, 100);
  assert.equal(atTop.before + atTop.after, 0);
});

test("a viewport above the list (the list below the fold) gets the first rows; below it, the last", () => {
  const offsets = uniform(500, 20);
  const above = visibleWindow(offsets, -900, -100, 200);
  assert.equal(above.start, 0);
  assert.equal(above.end, 5); // 100 px of overscan past the list's top: rows 0..4
  const below = visibleWindow(offsets, 20000, 20800, 0);
  assert.equal(below.end, 500);
  assert.equal(below.start, 499);
  assert.equal(below.after, 0);
});

test("maxRows caps the window even when rows are tiny or unmeasured at zero", () => {
  const win = visibleWindow(rowOffsets(new Array(5000).fill(0)), 0, 800, 600, 400);
  assert.equal(win.start, 0);
  assert.ok(win.end - win.start <= 400, `${win.end - win.start} rows`);
  assert.ok(win.end - win.start >= 1);
});

test("an empty list has an empty window", () => {
  assert.deepEqual(visibleWindow(rowOffsets([]), 0, 500, 100), { start: 0, end: 0, before: 0, after: 0 });
});

test("variable heights: a tall open card is found and kept whole in the window", () => {
  const heights = new Array(300).fill(38);
  heights[150] = 600; // an open card
  const offsets = rowOffsets(heights);
  const cardTop = offsets[150];
  const win = visibleWindow(offsets, cardTop + 300, cardTop + 500, 0);
  assert.equal(win.start, 150);
  assert.equal(win.end, 151);
  assert.equal(win.before, 150 * 38);
});

test("scrollTarget: nearest scrolls only as much as needed, center centres the row", () => {
  const offsets = uniform(100, 10); // view 200 px high
  assert.equal(scrollTarget(offsets, 5, 0, 200), 0, "already in view: stay");
  assert.equal(scrollTarget(offsets, 40, 0, 200), 410 - 200, "below: its bottom at the view's bottom");
  assert.equal(scrollTarget(offsets, 3, 300, 200), 30, "above: its top at the view's top");
  assert.equal(scrollTarget(offsets, 50, 0, 200, "center"), 505 - 100);
  assert.equal(scrollTarget(offsets, 1, 900, 200, "center"), 0, "never above the list's top");
});

test("typicalHeight is the median of the measured heights (open cards do not inflate it), else the fallback", () => {
  assert.equal(typicalHeight(new Map(), 38), 38);
  assert.equal(typicalHeight(new Map([["a", 38], ["b", 38], ["c", 640]]), 10), 38);
  assert.equal(typicalHeight(new Map([["a", 30], ["b", 40]]), 10), 35);
});
