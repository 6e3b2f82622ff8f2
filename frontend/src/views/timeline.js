// The list of a run's diagnostics, ordered by step; a row expands into its card.
// Rows are reused by key across refreshes; a card is only built when its row is opened.
// A long run's list is virtual (views/virtualList.js): only the rows in view are in the DOM.

import { attr, h, reconcile } from "../dom.js";
import { stepLabel } from "../format.js";
import { knownSeverity, severityBadge } from "../icons.js";
import { buildCard } from "./card.js";
import { createVirtualList } from "./virtualList.js";

let nextId = 0;
const COLLAPSED_ROW_PX = 38; // .diag-head's min-height and the row's border

/** `actions`: toggle(key), mute(check). Returns {el, update(rows, ctx), reveal(key)}. */
export function createTimeline(actions) {
  const list = h("ol", { class: "timeline", "data-testid": "timeline", "aria-label": "Diagnostics by step" });
  let ctx = { run: null, expanded: new Set() };
  const rows = createVirtualList({
    list,
    scroller: window,
    keyOf: (r) => r.key,
    sizeKeyOf: (r) => (ctx.expanded.has(r.key) ? `${r.key} open` : r.key),
    create: (r) => createRow(r, actions),
    update: (node, r) => updateRow(node, r, ctx, actions),
    estimate: COLLAPSED_ROW_PX,
  });

  /** ctx: {run, expanded: Set of keys}. */
  function update(visibleRows, nextCtx) {
    if (list.dataset.run !== nextCtx.run) {
      reconcile(list, [], () => "", null, null); // another run: fresh rows
      rows.forgetHeights();
    }
    ctx = nextCtx;
    list.dataset.run = ctx.run ?? "";
    rows.setItems(visibleRows);
  }

  /** Scrolls to a row (rendering it first when the list is virtual), focuses its header and flashes it. */
  function reveal(key) {
    const row = rows.show(key, "center");
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
