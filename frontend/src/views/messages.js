// Small message blocks: the empty state, inline errors, quiet notes.

import { h } from "../dom.js";

/** Shown when no run holds SCRAM data yet. */
export function emptyState() {
  return h("section", { class: "empty-state", "data-testid": "empty-state" },
    h("h2", { text: "No SCRAM data yet" }),
    h("p", { text: "SCRAM has not found any run in this log directory. Add its callback to your training script:" }),
    h("pre", { class: "snippet" }, h("code", {
      text: "from tensorboard_plugin_scram import ScramCallback\n\nmodel.fit(x, y, callbacks=[ScramCallback(log_dir)])",
    })),
    h("p", { class: "hint", text: "Then train: diagnostics show up here while the model trains (this page refreshes every 15 seconds)." }));
}

/** A small inline error, with an optional Retry button. */
export function errorMessage(text, onRetry) {
  return h("div", { class: "error-message", role: "alert", "data-testid": "error-message" },
    h("span", { text }),
    onRetry && h("button", { type: "button", class: "button small", on: { click: onRetry } }, "Retry"));
}

/** A grey note: "Loading…", "No diagnostics", etc. */
export function note(text, testid) {
  return h("p", { class: "note", "data-testid": testid ?? null, text });
}

/** Fills `slot` with an error message, or empties it when `text` is falsy. */
export function showError(slot, text, onRetry) {
  slot.replaceChildren(...(text ? [errorMessage(text, onRetry)] : []));
}
