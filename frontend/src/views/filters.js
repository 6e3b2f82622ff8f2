// Filters above the timeline: severity toggles, a check select, per-check mute chips, a summary.

import { attr, h, reconcile } from "../dom.js";
import { SEVERITIES } from "../format.js";
import { rowsSummary } from "../filter.js";
import { severityIcon } from "../icons.js";

/** `actions`: toggleSeverity(sev), filterCheck(check), mute(check). Returns {el, update(ctx)}. */
export function createFilters(actions) {
  const sevButtons = SEVERITIES.map((sev) =>
    h("button", {
      type: "button",
      class: `toggle sev-toggle sev-${sev}`,
      "data-testid": `filter-severity-${sev}`,
      dataset: { severity: sev },
      on: { click: () => actions.toggleSeverity(sev) },
    }));
  const select = h("select", {
    class: "check-select",
    "data-testid": "filter-check",
    "aria-label": "Show only one check",
    on: { change: (e) => actions.filterCheck(e.target.value) },
  });
  const summary = h("span", { class: "rows-summary", "data-testid": "rows-summary", "aria-live": "polite" });
  const chips = h("ul", { class: "check-chips", "aria-label": "Checks in this run: mute the ones you judge false alarms" });
  const el = h("div", { class: "filters" },
    h("div", { class: "filter-row" },
      h("div", { class: "sev-toggles", role: "group", "aria-label": "Severities shown" }, sevButtons),
      h("label", { class: "check-filter" }, h("span", { class: "label", text: "Check" }), select),
      summary),
    chips);

  /** ctx: {filters, counts (per severity), stats (per check), muted: Set, visible} */
  function update(ctx) {
    sevButtons.forEach((button) => {
      const sev = button.dataset.severity;
      const on = ctx.filters.severities.has(sev);
      attr(button, "aria-pressed", on ? "true" : "false");
      button.replaceChildren(severityIcon(sev), `${sev} `, h("span", { class: "count", text: String(ctx.counts[sev] ?? 0) }));
      button.title = `${on ? "Hide" : "Show"} ${sev} diagnostics`;
    });
    updateSelect(select, ctx.stats, ctx.filters.check);
    summary.textContent = rowsSummary(ctx.visible);
    reconcile(chips, ctx.stats, (s) => s.check, (s) => createChip(s.check, actions), (chip, s) => updateChip(chip, s, ctx.muted));
  }

  return { el, update };
}

function updateSelect(select, stats, current) {
  const wanted = ["", ...stats.map((s) => s.check)];
  if (current && !wanted.includes(current)) wanted.push(current);
  const have = [...select.options].map((o) => o.value);
  if (have.join("\n") !== wanted.join("\n")) {
    select.replaceChildren(...wanted.map((value) => h("option", { value, text: value || "All checks" })));
  }
  select.value = current;
}

function createChip(check, actions) {
  const count = h("span", { class: "count" });
  const button = h("button", {
    type: "button",
    class: "toggle mute-toggle",
    "data-testid": `mute-${check}`,
    on: { click: () => actions.mute(check) },
  });
  const chip = h("li", { class: "chip", dataset: { check } }, h("span", { class: "mono", text: check }), count, button);
  Object.assign(chip, { _count: count, _button: button });
  return chip;
}

function updateChip(chip, stat, muted) {
  const isMuted = muted.has(stat.check);
  chip.classList.toggle("muted", isMuted);
  chip._count.textContent = `×${stat.count}`;
  attr(chip._button, "aria-pressed", isMuted ? "true" : "false");
  chip._button.textContent = isMuted ? "Muted" : "Mute";
  chip._button.title = isMuted
    ? `Unmute ${stat.check}: show it as usual again`
    : `Mute ${stat.check} (a false alarm): it stays listed, dimmed and collapsed`;
  chip._button.setAttribute("aria-label", `Mute ${stat.check}`);
}
