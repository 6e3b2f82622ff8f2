import assert from "node:assert/strict";
import { test } from "node:test";
import { alignSeries, axisFor, gapNotes, lossDistribution, seriesOrder } from "../src/chartData.js";

test("series are aligned on the union of steps: missing is undefined, null stays a gap", () => {
  const aligned = alignSeries([
    { name: "loss", points: [[0, 2.3], [10, null], [19, 1.9]] },
    { name: "val_loss", points: [[19, 1.95]] },
    { name: "empty", points: [] },
  ]);
  assert.deepEqual(aligned.xs, [0, 10, 19]);
  assert.deepEqual(aligned.names, ["loss", "val_loss"]);
  assert.deepEqual(aligned.ys[0], [2.3, null, 1.9]);
  assert.deepEqual(aligned.ys[1], [undefined, undefined, 1.95]);
});

test("extra steps (diagnostics) widen the x axis", () => {
  const aligned = alignSeries([{ name: "loss", points: [[0, 1], [10, 0.5]] }], [312, 5]);
  assert.deepEqual(aligned.xs, [0, 5, 10, 312]);
  assert.deepEqual(aligned.ys[0], [1, undefined, 0.5, undefined]);
});

test("no series gives no steps", () => {
  assert.deepEqual(alignSeries([]).xs, []);
  assert.deepEqual(alignSeries(undefined).xs, []);
});

test("axes and order", () => {
  assert.equal(axisFor("loss"), "loss");
  assert.equal(axisFor("val_accuracy"), "acc");
  assert.equal(axisFor("sparse_categorical_accuracy"), "acc");
  const names = ["val_accuracy", "accuracy", "val_loss", "loss"].map((name) => ({ name }));
  assert.deepEqual(names.sort(seriesOrder).map((s) => s.name), ["loss", "val_loss", "accuracy", "val_accuracy"]);
});

test("gap notes name curves with NaN/Inf values", () => {
  assert.deepEqual(gapNotes([{ name: "accuracy", points: [[0, 0.5]] }]), []);
  assert.deepEqual(gapNotes([{ name: "loss", points: [[0, 2], [49, null], [99, null]] }]),
    ["loss: not a finite number (NaN/Inf) from step 49 (2 points)"]);
  assert.deepEqual(gapNotes([{ name: "loss", points: [[3, null]] }]),
    ["loss: not a finite number (NaN/Inf) from step 3 (1 point), so it is not drawn"]);
});

test("the loss axis turns logarithmic only when positive losses span 4 decades", () => {
  const exploding = { names: ["loss", "accuracy"], ys: [[1.38, 4e21, null, undefined], [0.1, 0.2, 0.1, 0.1]] };
  assert.equal(lossDistribution(exploding), 3);
  assert.equal(lossDistribution({ names: ["loss"], ys: [[2.3, 0.1, 0.05]] }), 1);
  assert.equal(lossDistribution({ names: ["loss"], ys: [[-5, 1e6]] }), 1); // a negative loss: no log axis
  assert.equal(lossDistribution({ names: ["accuracy"], ys: [[1e-6, 1]] }), 1); // accuracies do not count
});
