import assert from "node:assert/strict";
import { test } from "node:test";
import { RUN_SORTS, runMatcher, runsToList, sortRuns } from "../src/runOrder.js";
import { createState } from "../src/state.js";

const names = ["lr_high/scram", "lr_low/scram", "lr_fixed/scram", "batch_64/scram", "scram"];
const matching = (query) => names.filter((n) => runMatcher(query).test(n));

test("plain text matches as a case-insensitive substring; empty or blank text matches everything", () => {
  assert.deepEqual(matching("HIGH"), ["lr_high/scram"]);
  assert.deepEqual(matching("lr_"), ["lr_high/scram", "lr_low/scram", "lr_fixed/scram"]);
  assert.deepEqual(matching(""), names);
  assert.deepEqual(matching("   "), names);
  assert.deepEqual(matching("fixed "), ["lr_fixed/scram"], "surrounding spaces are ignored");
  assert.equal(runMatcher("HIGH").error, null);
});

test("a regular expression matches the run's name or its label (so $ anchors on what the list shows)", () => {
  assert.deepEqual(matching("^lr_(high|low)$"), ["lr_high/scram", "lr_low/scram"]);
  assert.deepEqual(matching("_\\d+"), ["batch_64/scram"]);
  assert.deepEqual(matching("^scram$"), ["scram"]);
  assert.deepEqual(matching("/scram$"), ["lr_high/scram", "lr_low/scram", "lr_fixed/scram", "batch_64/scram"]);
});

test("an invalid regular expression says so and falls back to plain text", () => {
  const matcher = runMatcher("lr_(");
  assert.match(matcher.error, /Not a valid regular expression/);
  assert.match(matcher.error, /plain text/);
  assert.equal(matcher.test("lr_(x)/scram"), true);
  assert.equal(matcher.test("lr_high/scram"), false);
  assert.deepEqual(matching("[unclosed"), []);
  assert.equal(runMatcher("a(b").test("XA(BY"), true, "the fallback ignores case too");
});

const run = (name, counts, firstError, firstWarning) => ({
  run: name,
  counts: { error: 0, warning: 0, info: 0, ...counts },
  ...(firstError === undefined ? {} : { first_error_step: firstError }),
  ...(firstWarning === undefined ? {} : { first_warning_step: firstWarning }),
});

const sample = [
  run("b/scram", { warning: 3 }, null, 5),
  run("a/scram", { error: 1, warning: 9 }, 400, 2),
  run("d/scram", { error: 2 }, 900, null),
  run("c/scram", { info: 4 }, null, null),
  run("e/scram", { error: 2, warning: 1 }, 30, 700),
];
const order = (runs) => runs.map((r) => r.run);

test("sort by name: code-point order, as the server lists runs", () => {
  assert.deepEqual(order(sortRuns(sample, "name")), ["a/scram", "b/scram", "c/scram", "d/scram", "e/scram"]);
  assert.deepEqual(order(sortRuns([run("b"), run("B"), run("a")], "name")), ["B", "a", "b"]);
});

test("sort by severity: most errors, then most warnings, then most info, then name", () => {
  assert.deepEqual(order(sortRuns(sample, "severity")), ["e/scram", "d/scram", "a/scram", "b/scram", "c/scram"]);
});

test("sort by first error: earliest first, runs without an error last (by first warning, then severity)", () => {
  assert.deepEqual(order(sortRuns(sample, "first-error")), ["e/scram", "a/scram", "d/scram", "b/scram", "c/scram"]);
});

test("sort by first error from an older plugin without the steps: like severity, never a throw", () => {
  const old = sample.map(({ run: name, counts }) => ({ run: name, counts }));
  assert.deepEqual(order(sortRuns(old, "first-error")), order(sortRuns(old, "severity")));
  const odd = [{ run: "x" }, { run: "w", counts: null, first_error_step: "12" }];
  assert.deepEqual(order(sortRuns(odd, "first-error")), ["w", "x"]);
});

test("sorting returns a copy and leaves the server's list alone; an unknown order sorts by name", () => {
  const before = order(sample);
  const sorted = sortRuns(sample, "severity");
  assert.notEqual(sorted, sample);
  assert.deepEqual(order(sample), before);
  assert.deepEqual(order(sortRuns(sample, "bogus")), order(sortRuns(sample, "name")));
});

test("runsToList filters then sorts, and passes the filter's error on", () => {
  const listed = runsToList(sample, "^[a-d]", "severity");
  assert.deepEqual(order(listed.runs), ["d/scram", "a/scram", "b/scram", "c/scram"]);
  assert.equal(listed.error, null);
  const broken = runsToList(sample, "(", "name");
  assert.deepEqual(broken.runs, []);
  assert.match(broken.error, /Not a valid regular expression/);
});

test("the run list starts sorted by name, an order the select offers", () => {
  const state = createState({ getItem: () => null, setItem() {}, removeItem() {} });
  assert.equal(state.runSort, "name");
  assert.equal(state.runQuery, "");
  assert.ok(RUN_SORTS.some((s) => s.id === state.runSort));
  assert.deepEqual(RUN_SORTS.map((s) => s.id), ["name", "severity", "first-error"]);
});
