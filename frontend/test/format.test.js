import assert from "node:assert/strict";
import { test } from "node:test";
import { countsSummary, formatNumber, formatTick, formatValue, overheadDetail, overheadText, percent, runLabel, safeUrl, skippedNote, stepLabel } from "../src/format.js";

test("countsSummary pluralises and leaves out zeros", () => {
  assert.equal(countsSummary({ error: 1, warning: 2, info: 0 }), "1 error, 2 warnings");
  assert.equal(countsSummary({ error: 0, warning: 1, info: 3 }), "1 warning, 3 info");
  assert.equal(countsSummary({ error: 2, warning: 0, info: 1 }), "2 errors, 1 info");
  assert.equal(countsSummary({ error: 0, warning: 0, info: 0 }), "No issues");
  assert.equal(countsSummary(undefined), "No issues");
  assert.equal(countsSummary({ error: 1234 }), "1,234 errors");
});

test("overhead as a share of training time, or a dash", () => {
  assert.equal(overheadText({ fraction: 0.012, scram_seconds: 0.31, train_seconds: 25.4 }), "SCRAM used 1.2% of training time");
  assert.equal(overheadText({ fraction: 0.31 }), "SCRAM used 31% of training time");
  assert.equal(overheadText({ fraction: 0.0004 }), "SCRAM used <0.1% of training time");
  assert.equal(overheadText({ fraction: 0 }), "SCRAM used 0% of training time");
  assert.equal(overheadText(null), "—");
  assert.equal(overheadDetail({ fraction: 0.012, scram_seconds: 0.31, train_seconds: 25.4 }), "0.31 s of 25.4 s of training");
  assert.match(overheadDetail(null), /not recorded/);
  assert.equal(percent(0.05), "5%");
});

test("skipped records note", () => {
  assert.equal(skippedNote(0), "");
  assert.match(skippedNote(1), /^1 record could not be read/);
  assert.match(skippedNote(3), /^3 records could not be read/);
});

test("run labels strip the trailing scram directory", () => {
  assert.equal(runLabel("lr_high/scram"), "lr_high");
  assert.equal(runLabel("a/b/scram"), "a/b");
  assert.equal(runLabel("scram"), ".");
  assert.equal(runLabel("other"), "other");
  assert.equal(runLabel("myscram"), "myscram");
});

test("step labels with and without epoch", () => {
  assert.equal(stepLabel(312, 1), "step 312 · epoch 1");
  assert.equal(stepLabel(312, 0), "step 312 · epoch 0");
  assert.equal(stepLabel(312, null), "step 312");
  assert.equal(stepLabel(12000, 3), "step 12,000 · epoch 3");
});

test("numbers and evidence values", () => {
  assert.equal(formatNumber(10), "10");
  assert.equal(formatNumber(0.001), "0.001");
  assert.equal(formatNumber(2.30258509), "2.303");
  assert.equal(formatNumber(1e10), "1e+10");
  assert.equal(formatNumber(1.5e-7), "1.5e-7");
  assert.equal(formatNumber(0), "0");
  assert.equal(formatValue("nan"), "nan");
  assert.equal(formatValue(false), "false");
  assert.equal(formatValue(null), "null");
  assert.equal(formatValue([1, 2]), "[1,2]");
});

test("safeUrl keeps relative and http(s) URLs only", () => {
  assert.equal(safeUrl("docs/checks/nan_loss.md"), "docs/checks/nan_loss.md");
  assert.equal(safeUrl("/docs/x.md"), "/docs/x.md");
  assert.equal(safeUrl("https://example.com/a"), "https://example.com/a");
  assert.equal(safeUrl("http://example.com/a"), "http://example.com/a");
  assert.equal(safeUrl("javascript:alert(1)"), null);
  assert.equal(safeUrl("  JavaScript:alert(1)"), null);
  assert.equal(safeUrl("java\tscript:alert(1)"), null);
  assert.equal(safeUrl("data:text/html,<script>1</script>"), null);
  assert.equal(safeUrl("vbscript:x"), null);
  assert.equal(safeUrl(""), null);
  assert.equal(safeUrl(null), null);
  assert.equal(safeUrl(42), null);
});

test("axis ticks stay short: exponents for huge and tiny values, nothing for non-finite ones", () => {
  assert.equal(formatTick(4e21), "4e+21");
  assert.equal(formatTick(1.5e18), "1.5e+18");
  assert.equal(formatTick(12000), "12,000");
  assert.equal(formatTick(0.25), "0.25");
  assert.equal(formatTick(1e-7), "1e-7");
  assert.equal(formatTick(0), "0");
  assert.equal(formatTick(NaN), "");
});
