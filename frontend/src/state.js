// The panel's UI state and the few operations on it. Mutes persist in localStorage.
// No DOM. Tested in test/state.test.js.

import { allFilters } from "./filter.js";

export const MUTED_KEY = "scram.muted.v1";

/** localStorage when usable (it can throw in sandboxed frames), else an in-memory stand-in. */
export function safeStorage(candidate = globalThis.localStorage) {
  try {
    const probe = "scram.probe";
    candidate.setItem(probe, "1");
    candidate.removeItem(probe);
    return candidate;
  } catch {
    const memory = new Map();
    return {
      getItem: (k) => (memory.has(k) ? memory.get(k) : null),
      setItem: (k, v) => memory.set(k, String(v)),
      removeItem: (k) => memory.delete(k),
    };
  }
}

export function createState(storage = safeStorage()) {
  return {
    storage,
    runs: null, // the `runs` route's list once loaded
    catalogue: new Map(), // check id -> {title, severity, doc}
    selected: null, // run shown in the run view
    compare: [], // runs ticked for comparison, in the order ticked (first = baseline)
    view: "run", // "run" | "compare"
    runQuery: "", // run-list filter text: a substring or a regular expression (runOrder.js)
    runSort: "name", // run-list order: an id of RUN_SORTS (runOrder.js)
    filters: allFilters(),
    expanded: new Map(), // run -> Set of diagnostic keys whose card is open
    muted: loadMuted(storage),
  };
}

export function loadMuted(storage) {
  try {
    const list = JSON.parse(storage.getItem(MUTED_KEY) ?? "[]");
    return new Set(Array.isArray(list) ? list.filter((c) => typeof c === "string") : []);
  } catch {
    return new Set();
  }
}

/** Mutes or unmutes a check everywhere; a muted check's open cards are closed. */
export function toggleMute(state, check) {
  if (state.muted.has(check)) {
    state.muted.delete(check);
  } else {
    state.muted.add(check);
    const prefix = `${check}@`; // keys are "check@step[#n]" (see diagnosticKeys)
    for (const open of state.expanded.values()) {
      for (const key of open) if (key.startsWith(prefix)) open.delete(key);
    }
  }
  try {
    state.storage.setItem(MUTED_KEY, JSON.stringify([...state.muted].sort()));
  } catch {
    // Storage full or refused: the mute still holds for this page.
  }
  return state.muted.has(check);
}

/** The set of open cards of a run (created on first use). */
export function expandedOf(state, run) {
  if (!state.expanded.has(run)) state.expanded.set(run, new Set());
  return state.expanded.get(run);
}

/** Opens or closes one card; returns whether it is now open. */
export function toggleExpanded(state, run, key, open) {
  const set = expandedOf(state, run);
  const now = open ?? !set.has(key);
  if (now) set.add(key);
  else set.delete(key);
  return now;
}

/** Ticks or unticks a run for comparison, keeping the order of ticking. */
export function toggleCompare(state, run, on) {
  const has = state.compare.includes(run);
  const want = on ?? !has;
  if (want && !has) state.compare.push(run);
  if (!want && has) state.compare = state.compare.filter((r) => r !== run);
  return want;
}

/** Applies a new `runs` list: drops vanished runs from the selection, picks a run if none. */
export function applyRuns(state, runs) {
  state.runs = runs;
  const names = new Set(runs.map((r) => r.run));
  state.compare = state.compare.filter((r) => names.has(r));
  if (!names.has(state.selected)) state.selected = runs.length ? pickDefaultRun(runs) : null;
  if (state.view === "compare" && state.compare.length < 2) state.view = "run";
}

/** The run to open first: the first with an error, else the first with anything, else the first. */
export function pickDefaultRun(runs) {
  const withErrors = runs.find((r) => (r.counts?.error ?? 0) > 0);
  const withAny = runs.find((r) => Object.values(r.counts ?? {}).some((n) => n > 0));
  return (withErrors ?? withAny ?? runs[0]).run;
}
