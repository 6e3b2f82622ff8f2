// The list of a run's diagnostics, ordered by step; a row expands into its card.
// Rows are reused by key across refreshes; a card is only built when its row is opened.

import { attr, h, reconcile } from "../dom.js";
import { stepLabel } from "../format.js";
import { knownSeverity, severityBadge } from "../icons.js";
import { buildCard } from "./card.js";

let nextId = 0;

/** `actions`: toggle(key), mute(check). Returns {el, update(rows, ctx), reveal(key)}. */
export function createTimeline(actions) {
  const list = h("ol", { class: "timeline", "data-testid": "timeline", "aria-label": "Diagnostics by step" });

  /** ctx: {run, expanded: Set of keys}. */
  function update(rows, ctx) {
    if (list._run !== ctx.run) reconcile(list, [], () => "", null, null); // another run: fresh rows
    list._run = ctx.run;
    reconcile(list, rows, (r) => r.key, (r) => createRow(r, actions), (node, r) => updateRow(node, r, ctx, actions));
  }

  /** Scrolls to a row, focuses its header and flashes it. */
  function reveal(key) {
    const row = list._nodesByKey?.get(key);
    if (!row) return;
    row.scrollIntoView({ block: "center" });
    row._head.focus({ preventScroll: true });
    row.classList.remove("flash");
    void row.offsetWidth; // restart the animation
    row.classList.add("flash");
  }

  return { el: list, update, reveal };
}

function createRow({ d, key }, actions) {
  const id = `scram-card-${++nextId}`;
  const sev = knownSeverity(d.severity);
  const mutedBadge = h("span", { class: "badge muted-badge", "data-testid": "muted-badge", hidden: true }, "muted");
  const head = h("button", {
    type: "button",
    class: "diag-head",
    "aria-expanded": "false",
    "aria-controls": id,
    on: { click: () => actions.toggle(key) },
  },
  h("span", { class: "chevron", "aria-hidden": "true" }),
  severityBadge(d.severity),
  h("span", { class: "diag-step", text: stepLabel(d.step, d.epoch) }),
  h("span", { class: "diag-title", text: d.title ?? d.check }),
  mutedBadge,
  h("span", { class: "diag-check mono", text: d.check }),
  h("span", { class: "diag-loc mono", text: d.location ?? "" }));
  const slot = h("div", { class: "card-slot", id, hidden: true });
  const row = h("li", {
    class: `diag sev-${sev}`,
    "data-testid": "diagnostic",
    dataset: { check: d.check, severity: d.severity, step: String(d.step), key },
  }, head, slot);
  Object.assign(row, { _head: head, _slot: slot, _badge: mutedBadge, _d: d });
  return row;
}

function updateRow(row, { d, muted }, ctx, actions) {
  const open = ctx.expanded.has(row.dataset.key);
  row.classList.toggle("muted", muted);
  row.classList.toggle("open", open);
  row._badge.hidden = !muted;
  attr(row._head, "aria-expanded", open ? "true" : "false");
  row._slot.hidden = !open;
  const cardIsStale = row._slot.firstChild && row._cardMuted !== muted;
  if (open && (!row._slot.firstChild || cardIsStale)) {
    row._slot.replaceChildren(buildCard(d, { muted, actions }));
    row._cardMuted = muted;
  }
}
