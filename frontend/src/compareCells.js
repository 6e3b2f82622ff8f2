// Pure logic for the compare view: the text of a matrix cell and the sections of a two-run
// diff. No DOM. Tested in test/compareCells.test.js.

import { formatInt as fmt } from "./format.js";

/** A compare-matrix cell: {text: "step 312", severity, count, title} or null for "—". */
export function compareCell(first) {
  if (!first) return null;
  const count = first.count ?? 1;
  const epoch = first.epoch === null || first.epoch === undefined ? "" : `, epoch ${first.epoch}`;
  const times = count > 1 ? `; ${fmt(count)} times in all` : "";
  return {
    text: `step ${fmt(first.step)}`,
    severity: first.severity,
    count,
    title: `first ${first.severity} at step ${fmt(first.step)}${epoch}${times}`,
  };
}

/** The three sections of a two-run diff, in display order. */
export function diffSections(diff) {
  return [
    { id: "fixed", testid: "diff-fixed", label: "Fixed", hint: "in the baseline, gone now", checks: diff?.fixed ?? [] },
    { id: "still", testid: "diff-still", label: "Still present", hint: "in both runs", checks: diff?.still_present ?? [] },
    { id: "new", testid: "diff-new", label: "New", hint: "not in the baseline", checks: diff?.new ?? [] },
  ];
}
