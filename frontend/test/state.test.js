import assert from "node:assert/strict";
import { test } from "node:test";
import {
  MUTED_KEY, applyRuns, createState, expandedOf, loadMuted, pickDefaultRun, safeStorage,
  toggleCompare, toggleExpanded, toggleMute,
} from "../src/state.js";

function memoryStorage(initial = {}) {
  const data = new Map(Object.entries(initial));
  return { getItem: (k) => (data.has(k) ? data.get(k) : null), setItem: (k, v) => data.set(k, String(v)), removeItem: (k) => data.delete(k), data };
}

test("mutes persist in storage and close the check's open cards", () => {
  const storage = memoryStorage();
  const state = createState(storage);
  toggleExpanded(state, "a/scram", "nan_loss@3", true);
  toggleExpanded(state, "a/scram", "overfitting@9", true);
  assert.equal(toggleMute(state, "nan_loss"), true);
  assert.deepEqual(JSON.parse(storage.data.get(MUTED_KEY)), ["nan_loss"]);
  assert.deepEqual([...expandedOf(state, "a/scram")], ["overfitting@9"]);
  assert.deepEqual([...createState(storage).muted], ["nan_loss"]);
  assert.equal(toggleMute(state, "nan_loss"), false);
  assert.deepEqual(JSON.parse(storage.data.get(MUTED_KEY)), []);
});

test("bad stored mutes are ignored", () => {
  assert.deepEqual([...loadMuted(memoryStorage({ [MUTED_KEY]: "{not json" }))], []);
  assert.deepEqual([...loadMuted(memoryStorage({ [MUTED_KEY]: '["a", 3]' }))], ["a"]);
});

test("a storage that throws falls back to memory", () => {
  const broken = { setItem() { throw new Error("denied"); }, getItem() { throw new Error("denied"); }, removeItem() {} };
  const storage = safeStorage(broken);
  storage.setItem("x", "1");
  assert.equal(storage.getItem("x"), "1");
});

test("compare keeps the order of ticking; vanished runs are dropped", () => {
  const state = createState(memoryStorage());
  toggleCompare(state, "b", true);
  toggleCompare(state, "a", true);
  toggleCompare(state, "c");
  assert.deepEqual(state.compare, ["b", "a", "c"]);
  toggleCompare(state, "a", false);
  assert.deepEqual(state.compare, ["b", "c"]);
  state.view = "compare";
  applyRuns(state, [{ run: "b", counts: {} }, { run: "x", counts: {} }]);
  assert.deepEqual(state.compare, ["b"]);
  assert.equal(state.view, "run");
});

test("applyRuns keeps the selection, or picks the first run with an error", () => {
  const state = createState(memoryStorage());
  const runs = [
    { run: "a", counts: { error: 0, warning: 0, info: 0 } },
    { run: "b", counts: { error: 0, warning: 1, info: 0 } },
    { run: "c", counts: { error: 1, warning: 0, info: 0 } },
  ];
  applyRuns(state, runs);
  assert.equal(state.selected, "c");
  state.selected = "a";
  applyRuns(state, runs);
  assert.equal(state.selected, "a");
  assert.equal(pickDefaultRun(runs.slice(0, 2)), "b");
  assert.equal(pickDefaultRun(runs.slice(0, 1)), "a");
  applyRuns(state, []);
  assert.equal(state.selected, null);
});
