// Pure logic for the run list at scale: the name filter (substring or regular expression) and the
// sort orders. No DOM. Tested in test/runOrder.test.js.

import { runLabel } from "./format.js";

/** The run list's sort orders, in the order the select offers them. */
export const RUN_SORTS = [
  { id: "name", label: "Name", title: "By name" },
  { id: "severity", label: "Severity", title: "Most errors first, then most warnings, then most info" },
  { id: "first-error", label: "First error", title: "Earliest first error first; runs without an error last" },
];

/**
 * A matcher for the filter box, as TensorBoard's own run filter: the text is a case-insensitive
 * regular expression (plain text is one too, matching as a substring). Text that is not a valid
 * expression is matched as plain text, and `error` says why it is not one.
 * A run matches when its full name ("lr_high/scram") or its label ("lr_high") does, so `^lr_high$`
 * works on what the list shows.
 * @returns {{test: (run: string) => boolean, error: string | null}}
 */
export function runMatcher(query) {
  const text = (query ?? "").trim();
  if (!text) return { test: () => true, error: null };
  let pattern;
  try {
    pattern = new RegExp(text, "i");
  } catch (error) {
    const needle = text.toLowerCase();
    return {
      test: (run) => run.toLowerCase().includes(needle),
      error: `Not a valid regular expression (${regexProblem(error)}): matching it as plain text.`,
    };
  }
  return { test: (run) => pattern.test(run) || pattern.test(runLabel(run)), error: null };
}

function regexProblem(error) {
  // V8: "Invalid regular expression: /a(/i: Unterminated group" -> "Unterminated group"
  const message = String(error?.message ?? error);
  return message.includes(": ") ? message.slice(message.lastIndexOf(": ") + 2) : message;
}

/** A copy of `runs` in the order `by` ("name" | "severity" | "first-error"); unknown orders sort by name. */
export function sortRuns(runs, by) {
  const compare = { severity: bySeverity, "first-error": byFirstError }[by] ?? byName;
  return [...runs].sort(compare);
}

/** Runs that pass the filter, in the chosen order: {runs, error} (error: the filter's, or null). */
export function runsToList(runs, query, by) {
  const matcher = runMatcher(query);
  return { runs: sortRuns(runs.filter((r) => matcher.test(r.run)), by), error: matcher.error };
}

// Code-point order, as the server and TensorBoard list runs.
function byName(a, b) {
  return a.run < b.run ? -1 : a.run > b.run ? 1 : 0;
}

const count = (r, sev) => r.counts?.[sev] ?? 0;

/** Most errors first, then most warnings, then most info, then by name. */
function bySeverity(a, b) {
  return count(b, "error") - count(a, "error")
    || count(b, "warning") - count(a, "warning")
    || count(b, "info") - count(a, "info")
    || byName(a, b);
}

/**
 * Earliest first error first, runs without one last (an older plugin sends no step: taken as none);
 * ties by the first warning's step the same way, then as `bySeverity`.
 */
function byFirstError(a, b) {
  return byStep(a.first_error_step, b.first_error_step)
    || byStep(a.first_warning_step, b.first_warning_step)
    || bySeverity(a, b);
}

function byStep(a, b) {
  const known = (s) => typeof s === "number" && Number.isFinite(s);
  if (known(a) && known(b)) return a - b;
  return known(a) ? -1 : known(b) ? 1 : 0;
}
