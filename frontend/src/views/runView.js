// One run: its header, the chart, the filters and the timeline of diagnostics.

import { h } from "../dom.js";
import { countsSummary, formatInt, overheadDetail, overheadText, runLabel, skippedNote } from "../format.js";
import { checkStats, severityCounts, visibleRows } from "../filter.js";
import { createChart } from "./chart.js";
import { createFilters } from "./filters.js";
import { note, showError } from "./messages.js";
import { createTimeline } from "./timeline.js";

/**
 * `actions`: toggle(key), mute(check), reveal(steps), toggleSeverity(sev), filterCheck(check), retry().
 * Returns {el, update(ctx), reveal(key)}.
 */
export function createRunView(actions) {
  const title = h("h2", { class: "run-title" });
  const subtitle = h("p", { class: "run-subtitle" });
  const errors = h("div", { class: "error-slot" });
  const chart = createChart(actions);
  const filters = createFilters(actions);
  const timeline = createTimeline(actions);
  const listNote = h("div", { class: "list-note" });
  const el = h("section", { class: "run-view", "aria-label": "Diagnostics of the selected run" },
    h("header", { class: "run-header" }, title, subtitle), errors, chart.el, filters.el, listNote, timeline.el);

  /**
   * ctx: {state, summary (the run's `runs` entry), diagnostics (payload|null), series (payload|null),
   *       errors: {diagnostics, series} (messages or null)}.
   */
  function update(ctx) {
    const { state, summary } = ctx;
    const run = state.selected;
    title.textContent = runLabel(run);
    title.title = run;
    subtitle.replaceChildren(...headerFacts(summary, ctx.diagnostics));
    showError(errors, errorText(ctx.errors), actions.retry);
    const all = ctx.diagnostics?.diagnostics ?? [];
    const visible = visibleRows(all, state.filters, state.muted);
    filters.update({
      filters: state.filters,
      counts: severityCounts(all),
      stats: checkStats(all),
      muted: state.muted,
      visible,
    });
    listNote.replaceChildren(...listNotes(ctx.diagnostics, all, visible));
    timeline.update(visible.rows, { run, expanded: ctx.expanded });
    chart.update(ctx.errors.series ? { series: [] } : ctx.series, visible.rows);
  }

  return { el, update, reveal: timeline.reveal };
}

function headerFacts(summary, payload) {
  const skipped = skippedNote(payload?.skipped ?? summary?.skipped);
  const facts = [
    summary && h("span", { text: countsSummary(summary.counts) }),
    summary?.last_step !== null && summary?.last_step !== undefined && h("span", { text: `last step ${formatInt(summary.last_step)}` }),
    summary && h("span", { title: overheadDetail(summary.overhead), text: summary.overhead ? overheadText(summary.overhead) : "SCRAM cost not recorded yet" }),
    skipped && h("span", { class: "warning-text", text: skipped }),
  ].filter(Boolean);
  return facts.flatMap((f, i) => (i ? [h("span", { class: "sep", "aria-hidden": "true", text: "·" }), f] : [f]));
}

function errorText(errors) {
  const parts = [];
  if (errors.diagnostics) parts.push(`Could not load the diagnostics: ${errors.diagnostics}`);
  if (errors.series) parts.push(`Could not load the loss curve: ${errors.series}`);
  return parts.join(" · ");
}

function listNotes(payload, all, visible) {
  if (!payload) return [note("Loading diagnostics…")];
  if (!all.length) return [note("No diagnostics in this run: SCRAM has found nothing wrong so far.", "no-diagnostics")];
  if (!visible.rows.length) return [note("No diagnostic matches the filters.", "no-match")];
  return [];
}
