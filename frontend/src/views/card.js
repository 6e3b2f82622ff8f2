// The card under an expanded diagnostic: explanation, fix, snippet, evidence, confidence, doc.

import { h } from "../dom.js";
import { formatValue, safeUrl } from "../format.js";

/** Builds a diagnostic's card. `actions.mute(check)` mutes its check. */
export function buildCard(d, { muted, actions }) {
  return h("div", { class: "card", "data-testid": "diagnostic-card" },
    section("What happened", d.explanation && h("p", { class: "explanation", text: d.explanation })),
    section("How to fix it", d.suggestion && h("p", { class: "suggestion", text: d.suggestion })),
    d.snippet && snippetBlock(d.snippet),
    evidenceTable(d.evidence),
    cardFooter(d, muted, actions),
  );
}

function section(heading, body) {
  if (!body) return null;
  return h("section", { class: "card-section" }, h("h4", { text: heading }), body);
}

function snippetBlock(snippet) {
  const code = h("code", { text: snippet });
  const status = h("span", { class: "copy-status", role: "status", "aria-live": "polite" });
  const button = h("button", {
    type: "button",
    class: "button small copy",
    "data-testid": "copy-snippet",
    on: { click: () => copyText(snippet, code, status) },
  }, "Copy");
  return h("section", { class: "card-section" },
    h("div", { class: "snippet-head" }, h("h4", { text: "Code" }), status, button),
    h("pre", { class: "snippet", "data-testid": "snippet" }, code));
}

function evidenceTable(evidence) {
  const entries = evidence && typeof evidence === "object" ? Object.entries(evidence) : [];
  if (!entries.length) return null;
  const rows = entries.map(([name, value]) =>
    h("tr", {}, h("th", { scope: "row", text: name }), h("td", { text: formatValue(value) })));
  return section("Evidence",
    h("table", { class: "evidence", "data-testid": "evidence" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "name" }), h("th", { scope: "col", text: "value" }))),
      h("tbody", {}, rows)));
}

function cardFooter(d, muted, actions) {
  const doc = safeUrl(d.doc);
  return h("div", { class: "card-footer" },
    d.confidence && h("span", { class: "meta", "data-testid": "confidence" }, "confidence ", h("strong", { text: d.confidence })),
    d.location && h("span", { class: "meta mono", text: d.location }),
    doc && h("a", { class: "doc-link", href: doc, target: "_blank", rel: "noopener noreferrer", "data-testid": "doc-link" }, "About this check"),
    h("span", { class: "spacer" }),
    h("button", {
      type: "button",
      class: "button small",
      "data-testid": "card-mute",
      "aria-pressed": muted ? "true" : "false",
      title: muted ? "Show this check as usual again" : "Judged a false alarm: dim this check in every run",
      on: { click: () => actions.mute(d.check) },
    }, muted ? `Unmute ${d.check}` : `Mute ${d.check}`),
  );
}

/** Copies with the async Clipboard API, else a hidden textarea + execCommand, else selects the code. */
export async function copyText(text, codeEl, statusEl) {
  const say = (message) => {
    statusEl.textContent = message;
    clearTimeout(statusEl._timer);
    statusEl._timer = setTimeout(() => (statusEl.textContent = ""), 2500);
  };
  try {
    await navigator.clipboard.writeText(text);
    return say("Copied");
  } catch {
    if (legacyCopy(text)) return say("Copied");
  }
  const range = document.createRange();
  range.selectNodeContents(codeEl);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  say("Press Ctrl+C to copy");
}

function legacyCopy(text) {
  const area = h("textarea", { class: "offscreen", readonly: true, "aria-hidden": "true" });
  area.value = text;
  const focused = document.activeElement;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  focused?.focus?.();
  return ok;
}
