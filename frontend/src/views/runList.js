// The run list: one row per run with counts, SCRAM's cost and a compare checkbox.

import { attr, h, reconcile } from "../dom.js";
import { countsSummary, overheadDetail, overheadText, runLabel, skippedNote } from "../format.js";
import { worstSeverity } from "../filter.js";
import { severityIcon } from "../icons.js";
import { matchesQuery } from "../state.js";

/**
 * Builds the sidebar. `actions`: select(run), toggleCompare(run, on), compare(), search(text).
 * Returns {el, update(state)}.
 */
export function createRunList(actions) {
  const title = h("h2", { class: "sidebar-title", text: "Runs" });
  const compareButton = h("button", {
    type: "button",
    class: "button primary",
    "data-testid": "compare-button",
    on: { click: () => actions.compare() },
  });
  const hint = h("p", { class: "hint compare-hint" });
  const search = h("input", {
    type: "search",
    class: "run-search",
    placeholder: "Filter runs",
    "aria-label": "Filter runs by name",
    "data-testid": "run-search",
    on: { input: (e) => actions.search(e.target.value) },
  });
  const list = h("ul", { class: "run-list", "data-testid": "run-list", "aria-label": "Runs" });
  const el = h("aside", { class: "sidebar", "aria-label": "Runs" },
    h("div", { class: "sidebar-head" }, title, compareButton), hint, search, list);

  function update(state) {
    const runs = state.runs ?? [];
    title.textContent = `Runs (${runs.length})`;
    const n = state.compare.length;
    compareButton.disabled = n < 2;
    compareButton.textContent = n >= 2 ? `Compare ${n} runs` : "Compare";
    attr(compareButton, "aria-pressed", state.view === "compare" ? "true" : "false");
    hint.textContent = n < 2 ? "Tick two or more runs to compare them." : `Baseline: ${runLabel(state.compare[0])}`;
    search.hidden = runs.length <= 8;
    const shown = runs.filter((r) => matchesQuery(r.run, state.runQuery));
    reconcile(list, shown, (r) => r.run, (r) => createItem(r.run, actions), (node, r) => updateItem(node, r, state));
  }

  return { el, update };
}

function createItem(run, actions) {
  const label = runLabel(run);
  const checkbox = h("input", {
    type: "checkbox",
    class: "run-check",
    "aria-label": `Compare ${label}`,
    "data-testid": "run-compare",
    on: { change: (e) => actions.toggleCompare(run, e.target.checked) },
  });
  const button = h("button", {
    type: "button",
    class: "run-select",
    title: run,
    on: { click: () => actions.select(run) },
  });
  const item = h("li", { class: "run-item", "data-testid": "run-item", dataset: { run } }, checkbox, button);
  item._parts = { checkbox, button };
  return item;
}

function updateItem(item, summary, state) {
  const { checkbox, button } = item._parts;
  const selected = state.view === "run" && state.selected === summary.run;
  item.classList.toggle("selected", selected);
  attr(button, "aria-current", selected ? "true" : null);
  checkbox.checked = state.compare.includes(summary.run);
  const counts = summary.counts ?? {};
  const worst = worstSeverity(Object.keys(counts).filter((s) => counts[s] > 0));
  const skipped = skippedNote(summary.skipped);
  button.replaceChildren(
    h("span", { class: "run-name" },
      worst ? severityIcon(worst) : h("span", { class: "sev-icon sev-none", "aria-hidden": "true" }),
      h("span", { class: "run-label", text: runLabel(summary.run) })),
    h("span", { class: "run-counts", "data-testid": "run-counts", text: countsSummary(counts) }),
    h("span", {
      class: summary.overhead ? "run-overhead" : "run-overhead unknown",
      "data-testid": "run-overhead",
      title: overheadDetail(summary.overhead),
      text: overheadText(summary.overhead),
    }),
    skipped && h("span", { class: "run-skipped", "data-testid": "run-skipped", text: skipped }),
  );
}
