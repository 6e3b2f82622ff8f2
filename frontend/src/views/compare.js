// Compare view: a matrix runs x checks (where each check first fired) and, for two runs,
// what the second run fixed, kept or added relative to the baseline.

import { append, h } from "../dom.js";
import { plural, runLabel } from "../format.js";
import { compareCell, diffSections } from "../compareCells.js";
import { severityIcon } from "../icons.js";
import { note, showError } from "./messages.js";

/** `actions`: back(), swap(), open(run, check, step), retry(). Returns {el, update(ctx)}. */
export function createCompareView(actions) {
  const title = h("h2", { class: "run-title", text: "Compare runs" });
  const swap = h("button", { type: "button", class: "button", "data-testid": "swap-baseline", on: { click: () => actions.swap() } }, "Swap baseline");
  const back = h("button", { type: "button", class: "button", "data-testid": "back-to-run", on: { click: () => actions.back() } }, "Back to the run");
  const errors = h("div", { class: "error-slot" });
  const body = h("div", { class: "compare-body" });
  const el = h("section", { class: "compare-view", "data-testid": "compare-view", "aria-label": "Compare runs" },
    h("header", { class: "run-header compare-header" }, title, h("span", { class: "spacer" }), swap, back), errors, body);

  let built = { signature: "", catalogue: null };

  /** ctx: {runs (names, baseline first), data (payload|null), error, catalogue}. */
  function update(ctx) {
    title.textContent = `Compare ${ctx.runs.length} runs`;
    swap.hidden = ctx.runs.length !== 2;
    showError(errors, ctx.error && `Could not compare the runs: ${ctx.error}`, actions.retry);
    // The matrix (50 runs x 25 checks: 1,250 cells, ~0.1 s of layout) is rebuilt only when what it
    // shows changed, not on every render or every 15 s poll that brings the same comparison.
    const signature = ctx.data ? JSON.stringify(ctx.data) : "";
    if (signature && signature === built.signature && ctx.catalogue === built.catalogue) return;
    built = { signature, catalogue: ctx.catalogue };
    if (!ctx.data) return body.replaceChildren(...(ctx.error ? [] : [note("Loading…")]));
    const data = ctx.data;
    body.replaceChildren();
    append(body, [
      data.diff && diffSummary(data, ctx.catalogue),
      data.checks?.length ? matrix(data, ctx.catalogue, actions) : note("None of these runs has any diagnostic.", "compare-empty"),
    ]);
  }

  return { el, update };
}

function diffSummary(data, catalogue) {
  const [baseline, other] = data.runs;
  return h("section", { class: "diff", "data-testid": "compare-diff" },
    h("p", { class: "diff-caption" }, "Baseline ", h("strong", { text: runLabel(baseline), title: baseline }),
      " → ", h("strong", { text: runLabel(other), title: other })),
    h("div", { class: "diff-columns" }, diffSections(data.diff).map((s) => diffColumn(s, catalogue))));
}

function diffColumn(section, catalogue) {
  const items = section.checks.map((check) =>
    h("li", { dataset: { check } }, h("span", { class: "mono", text: check }),
      catalogue.get(check)?.title && h("span", { class: "hint", text: ` ${catalogue.get(check).title}` })));
  return h("div", { class: `diff-col diff-${section.id}`, "data-testid": section.testid },
    h("h3", {}, h("span", { class: "diff-mark", "aria-hidden": "true", text: DIFF_MARKS[section.id] }),
      `${section.label} `, h("span", { class: "count", text: `(${section.checks.length})` })),
    h("p", { class: "hint", text: section.hint }),
    items.length ? h("ul", {}, items) : h("p", { class: "none", text: "none" }));
}

const DIFF_MARKS = { fixed: "✓", still: "=", new: "+" };

function matrix(data, catalogue, actions) {
  const head = h("tr", {}, h("th", { scope: "col", text: "Run" }),
    data.checks.map((c) => h("th", { scope: "col", class: "mono", title: catalogue.get(c.check)?.title ?? c.check, text: c.check })));
  const rows = data.runs.map((run, i) =>
    h("tr", { dataset: { run } },
      h("th", { scope: "row", title: run }, runLabel(run), i === 0 && h("span", { class: "badge", text: "baseline" })),
      data.checks.map((c) => matrixCell(run, c, actions))));
  return h("div", { class: "table-wrap" },
    h("table", { class: "matrix", "data-testid": "compare-matrix" }, h("thead", {}, head), h("tbody", {}, rows)));
}

function matrixCell(run, row, actions) {
  const cell = compareCell(row.first?.[run]);
  const td = h("td", { dataset: { check: row.check, run }, "data-testid": "compare-cell" });
  if (!cell) {
    td.append(h("span", { class: "absent", title: `${row.check} did not fire`, text: "—" }));
    return td;
  }
  td.append(h("button", {
    type: "button",
    class: `cell-button sev-${cell.severity}`,
    title: `${cell.title}: open`,
    "aria-label": `${row.check} in ${runLabel(run)}: ${cell.title}. Open`,
    on: { click: () => actions.open(run, row.check, row.first[run].step) },
  }, severityIcon(cell.severity), h("span", { text: cell.text }),
  cell.count > 1 && h("span", { class: "count", title: plural(cell.count, "diagnostic"), text: `×${cell.count}` })));
  return td;
}
