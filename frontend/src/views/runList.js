// The run list: one row per run with counts, SCRAM's cost and a compare checkbox; a filter box
// (substring or regular expression) and a sort order. The list is virtual (views/virtualList.js),
// so a sweep of a thousand runs keeps a few dozen rows in the DOM; the arrow keys move between
// runs, Enter or Space opens one.

import { attr, h } from "../dom.js";
import { countsSummary, formatInt, overheadDetail, overheadText, runLabel, skippedNote } from "../format.js";
import { worstSeverity } from "../filter.js";
import { severityIcon } from "../icons.js";
import { RUN_SORTS, runsToList } from "../runOrder.js";
import { createVirtualList } from "./virtualList.js";

const RUN_ROW_PX = 72; // a row with its name, counts and cost lines, before one is measured
const TOOLS_FROM = 9; // the filter box and the sort select show from this many runs

/**
 * Builds the sidebar. `actions`: select(run), toggleCompare(run, on), compare(), search(text), sort(by).
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
    placeholder: "Filter runs (regex)",
    title: "Case-insensitive; a regular expression such as ^lr_.*_(1|2)$ matches the run's name",
    "aria-label": "Filter runs by name or regular expression",
    "data-testid": "run-search",
    on: { input: (e) => actions.search(e.target.value) },
  });
  const sort = h("select", {
    class: "run-sort",
    "aria-label": "Sort runs",
    title: "Sort runs",
    "data-testid": "run-sort",
    on: { change: (e) => actions.sort(e.target.value) },
  }, RUN_SORTS.map((s) => h("option", { value: s.id, title: s.title, text: s.label })));
  const filterError = h("p", { class: "run-filter-error", role: "status", "data-testid": "run-filter-error", hidden: true });
  const tools = h("div", { class: "run-tools" }, search, sort);
  const list = h("ul", { class: "run-list", "data-testid": "run-list", "aria-label": "Runs" });
  const noMatch = h("p", { class: "note run-no-match", "data-testid": "run-no-match", hidden: true });
  const scroller = h("div", { class: "run-scroll", "data-testid": "run-scroll" }, list, noMatch);
  const el = h("aside", { class: "sidebar", "aria-label": "Runs" },
    h("div", { class: "sidebar-head" }, title, compareButton), hint, tools, filterError, scroller);

  let state = null;
  let shownSelection = null;
  const memo = { runs: null, query: null, sort: null, result: null };
  const rows = createVirtualList({
    list,
    scroller,
    keyOf: (r) => r.run,
    create: (r) => createItem(r.run, actions),
    update: (node, r) => updateItem(node, r, state),
    estimate: RUN_ROW_PX,
  });
  list.addEventListener("keydown", (e) => moveFocus(e, rows, memo.result?.runs ?? []));

  function update(next) {
    state = next;
    const runs = state.runs ?? [];
    const { runs: shown, error } = listed(state);
    title.textContent = shown.length === runs.length
      ? `Runs (${formatInt(runs.length)})`
      : `Runs (${formatInt(shown.length)} of ${formatInt(runs.length)})`;
    const n = state.compare.length;
    compareButton.disabled = n < 2;
    compareButton.textContent = n >= 2 ? `Compare ${n} runs` : "Compare";
    attr(compareButton, "aria-pressed", state.view === "compare" ? "true" : "false");
    hint.textContent = n < 2 ? "Tick two or more runs to compare them." : `Baseline: ${runLabel(state.compare[0])}`;
    tools.hidden = runs.length < TOOLS_FROM && !state.runQuery;
    if (sort.value !== state.runSort) sort.value = state.runSort;
    filterError.textContent = error ?? "";
    filterError.hidden = !error;
    noMatch.textContent = `No run matches “${state.runQuery.trim()}”.`;
    noMatch.hidden = shown.length > 0;
    rows.setItems(shown);
    if (state.selected !== shownSelection) {
      shownSelection = state.selected;
      rows.show(state.selected, "nearest"); // chosen elsewhere (first load, the compare view): bring it into view
    }
  }

  /** The runs to list, recomputed only when the runs, the filter or the order change. */
  function listed(s) {
    if (memo.runs !== s.runs || memo.query !== s.runQuery || memo.sort !== s.runSort) {
      Object.assign(memo, { runs: s.runs, query: s.runQuery, sort: s.runSort, result: runsToList(s.runs ?? [], s.runQuery, s.runSort) });
    }
    return memo.result;
  }

  return { el, update };
}

const MOVES = {
  ArrowDown: (i) => i + 1,
  ArrowUp: (i) => i - 1,
  Home: () => 0,
  End: (i, n) => n - 1,
};

/** Arrow keys, Home and End move the focus between runs' buttons, scrolling the list as needed. */
function moveFocus(event, rows, runs) {
  const move = MOVES[event.key];
  const item = event.target.closest?.(".run-item");
  if (!move || !item || !event.target.classList.contains("run-select")) return;
  const from = runs.findIndex((r) => r.run === item.dataset.run);
  const to = Math.min(Math.max(move(from, runs.length), 0), runs.length - 1);
  event.preventDefault();
  if (to === from || to < 0) return;
  rows.show(runs[to].run, "nearest")?._parts.button.focus();
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
  const showFirst = state.runSort === "first-error";
  if (item._summary === summary && item._showFirst === showFirst) return; // unchanged since the last pass
  Object.assign(item, { _summary: summary, _showFirst: showFirst });
  button.replaceChildren(...itemLines(summary, showFirst));
}

function itemLines(summary, showFirst) {
  const counts = summary.counts ?? {};
  const worst = worstSeverity(Object.keys(counts).filter((s) => counts[s] > 0));
  const skipped = skippedNote(summary.skipped);
  const first = firstStepsText(summary);
  const lines = [
    h("span", { class: "run-name" },
      worst ? severityIcon(worst) : h("span", { class: "sev-icon sev-none", "aria-hidden": "true" }),
      h("span", { class: "run-label", text: runLabel(summary.run) })),
    h("span", { class: "run-counts", "data-testid": "run-counts", title: first || null, text: countsSummary(counts) }),
    showFirst && first && h("span", { class: "run-first", "data-testid": "run-first", text: first }),
    h("span", {
      class: summary.overhead ? "run-overhead" : "run-overhead unknown",
      "data-testid": "run-overhead",
      title: overheadDetail(summary.overhead),
      text: overheadText(summary.overhead),
    }),
    skipped && h("span", { class: "run-skipped", "data-testid": "run-skipped", text: skipped }),
  ];
  return lines.filter(Boolean); // replaceChildren() would write out a `false`
}

/** "first error at step 1,200 · first warning at step 40", or "" when the server sent neither. */
function firstStepsText(summary) {
  const at = (name, step) => (typeof step === "number" ? `first ${name} at step ${formatInt(step)}` : null);
  return [at("error", summary.first_error_step), at("warning", summary.first_warning_step)].filter(Boolean).join(" · ");
}
