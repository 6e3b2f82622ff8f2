// The panel's controller: owns the state and the fetched data, wires views to actions,
// and refreshes everything in place (selection, open cards, filters and scroll survive).

import { ApiError } from "./api.js";
import { h } from "./dom.js";
import { clockTime } from "./format.js";
import { allFilters, diagnosticKeys, passesFilters } from "./filter.js";
import { POLL_MS } from "./live.js";
import { applyRuns, createState, expandedOf, toggleCompare, toggleExpanded, toggleMute } from "./state.js";
import { createCompareView } from "./views/compare.js";
import { emptyState, note, showError } from "./views/messages.js";
import { createRunList } from "./views/runList.js";
import { createRunView } from "./views/runView.js";

/** Builds the panel inside `root`. Returns {refresh, state}. */
export function createApp(root, { api, storage }) {
  const state = createState(storage);
  const cache = { diagnostics: new Map(), series: new Map(), compare: null, compareKey: "" };
  const errors = { runs: null, diagnostics: new Map(), series: new Map(), compare: null };
  let pendingReveal = null;

  const runList = createRunList({
    select: (run) => selectRun(run),
    toggleCompare: (run, on) => {
      toggleCompare(state, run, on);
      if (state.view === "compare" && state.compare.length < 2) state.view = "run";
      render();
      if (state.view === "compare") loadCompare();
    },
    compare: () => {
      state.view = "compare";
      render();
      loadCompare();
    },
    search: (text) => {
      state.runQuery = text;
      render();
    },
    sort: (by) => {
      state.runSort = by;
      render();
    },
  });
  const runView = createRunView({
    toggle: (key) => {
      toggleExpanded(state, state.selected, key);
      render();
    },
    mute: (check) => {
      const row = document.activeElement?.closest?.(".diag");
      toggleMute(state, check);
      render();
      if (row && !row.contains(document.activeElement)) row.querySelector(".diag-head")?.focus();
    },
    reveal: (steps) => revealStep(steps[0]),
    toggleSeverity: (sev) => {
      const set = state.filters.severities;
      if (set.has(sev)) set.delete(sev);
      else set.add(sev);
      render();
    },
    filterCheck: (check) => {
      state.filters.check = check;
      render();
    },
    retry: () => refresh(),
  });
  const compareView = createCompareView({
    back: () => {
      state.view = "run";
      render();
    },
    swap: () => {
      state.compare.reverse();
      render();
      loadCompare();
    },
    open: (run, check, step) => {
      pendingReveal = { run, check, step };
      selectRun(run);
    },
    retry: () => loadCompare(),
  });

  const status = h("span", { class: "status", "data-testid": "status", "aria-live": "polite" });
  const refreshButton = h("button", { type: "button", class: "button", "data-testid": "refresh", on: { click: () => refresh() } }, "Refresh");
  const topErrors = h("div", { class: "error-slot" });
  const main = h("main", { class: "main" });
  const layout = h("div", { class: "layout" }, runList.el, main);
  root.replaceChildren(
    h("header", { class: "topbar" },
      h("h1", { class: "brand" }, "SCRAM", h("span", { class: "brand-sub", text: "training diagnostics" })),
      h("span", { class: "spacer" }), status, refreshButton),
    topErrors, layout);

  function render() {
    showError(topErrors, errors.runs && `Could not load the runs: ${errors.runs}`, () => refresh());
    runList.el.hidden = !state.runs?.length;
    if (state.runs === null) return showMain(errors.runs ? null : note("Loading runs…"));
    if (!state.runs.length) return showMain(main.querySelector(".empty-state") ?? emptyState());
    runList.update(state);
    if (state.view === "compare") {
      compareView.update({ runs: state.compare, data: currentCompare(), error: errors.compare, catalogue: state.catalogue });
      showMain(compareView.el);
    } else {
      runView.update(runContext());
      showMain(runView.el);
      resolvePendingReveal();
    }
  }

  function showMain(node) {
    if (main.firstChild !== node || main.childNodes.length !== (node ? 1 : 0)) main.replaceChildren(...(node ? [node] : []));
  }

  function runContext() {
    const run = state.selected;
    return {
      state,
      summary: state.runs.find((r) => r.run === run),
      diagnostics: cache.diagnostics.get(run) ?? null,
      series: cache.series.get(run) ?? null,
      expanded: expandedOf(state, run),
      errors: { diagnostics: errors.diagnostics.get(run) ?? null, series: errors.series.get(run) ?? null },
    };
  }

  function currentCompare() {
    return cache.compareKey === JSON.stringify(state.compare) ? cache.compare : null;
  }

  function selectRun(run) {
    state.selected = run;
    state.view = "run";
    const summary = state.runs?.find((r) => r.run === run);
    if (state.filters.check && summary && !summary.checks?.includes(state.filters.check)) state.filters.check = "";
    render();
    loadRun(run);
  }

  /** Opens and scrolls to the (first visible) diagnostics at `step`. */
  function revealStep(step) {
    const diagnostics = cache.diagnostics.get(state.selected)?.diagnostics ?? [];
    const keys = diagnosticKeys(diagnostics);
    const hits = keys.filter((_, i) => diagnostics[i].step === step && passesFilters(diagnostics[i], state.filters));
    hits.forEach((key) => toggleExpanded(state, state.selected, key, true));
    render();
    if (hits.length) runView.reveal(hits[0]);
  }

  function resolvePendingReveal() {
    const wanted = pendingReveal;
    const diagnostics = cache.diagnostics.get(state.selected)?.diagnostics;
    if (!wanted || wanted.run !== state.selected || !diagnostics) return;
    pendingReveal = null;
    const i = diagnostics.findIndex((d) => d.check === wanted.check && d.step === wanted.step);
    if (i < 0) return;
    if (!passesFilters(diagnostics[i], state.filters)) state.filters = allFilters();
    const key = diagnosticKeys(diagnostics)[i];
    toggleExpanded(state, state.selected, key, true);
    render();
    runView.reveal(key);
  }

  async function load(what, key, fetcher, errorMap) {
    try {
      cache[what].set(key, await fetcher());
      errorMap.delete(key);
    } catch (error) {
      errorMap.set(key, messageOf(error));
    }
  }

  async function loadRun(run) {
    if (!run) return;
    await Promise.all([
      load("diagnostics", run, () => api.diagnostics(run), errors.diagnostics),
      load("series", run, () => api.series(run), errors.series),
    ]);
    if (state.selected === run) render();
  }

  async function loadCompare() {
    const runs = [...state.compare];
    if (runs.length < 2) return;
    try {
      const data = await api.compare(runs);
      cache.compare = data;
      cache.compareKey = JSON.stringify(runs);
      errors.compare = null;
    } catch (error) {
      errors.compare = messageOf(error);
    }
    render();
  }

  async function loadCatalogue() {
    try {
      const { checks } = await api.checks();
      state.catalogue = new Map((checks ?? []).map((c) => [c.check, c]));
    } catch {
      // Optional: the matrix then shows check ids without titles.
    }
  }

  let inFlight = null;
  /** Reloads runs, then the open run or comparison. Concurrent calls share one refresh. */
  function refresh() {
    inFlight ??= doRefresh().finally(() => (inFlight = null));
    return inFlight;
  }

  async function doRefresh() {
    status.textContent = "Refreshing…";
    try {
      const { runs } = await api.runs();
      if (!Array.isArray(runs)) throw new ApiError("the runs route answered without a list of runs");
      applyRuns(state, runs);
      errors.runs = null;
    } catch (error) {
      errors.runs = messageOf(error);
    }
    if (state.catalogue.size === 0) await loadCatalogue();
    render();
    await Promise.all([loadRun(state.selected), state.view === "compare" ? loadCompare() : null]);
    status.textContent = errors.runs
      ? "Refresh failed"
      : `Updated ${clockTime(new Date())} · refreshes every ${POLL_MS / 1000} s`;
  }

  return { refresh, state };
}

function messageOf(error) {
  return error instanceof ApiError ? error.message : `unexpected error (${error?.message ?? error})`;
}
