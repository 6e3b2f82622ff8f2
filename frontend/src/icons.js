// Severity icons as inline SVG built with the DOM API (no markup parsing), plus the word.

import { SEVERITIES } from "./format.js";

const SVG = "http://www.w3.org/2000/svg";

// Material-style 24x24 paths: error (circle with a cross), warning (triangle with !), info (circle with i).
const PATHS = {
  error:
    "M12 2C6.48 2 2 6.48 2 12s4.48 10 10 10 10-4.48 10-10S17.52 2 12 2zm4.3 12.9-1.4 1.4L12 13.4l-2.9 2.9-1.4-1.4 2.9-2.9-2.9-2.9 1.4-1.4 2.9 2.9 2.9-2.9 1.4 1.4-2.9 2.9z",
  warning: "M1 21h22L12 2 1 21zm12-3h-2v-2h2v2zm0-4h-2v-4h2v4z",
  info: "M12 2C6.48 2 2 6.48 2 12s4.48 10 10 10 10-4.48 10-10S17.52 2 12 2zm1 15h-2v-6h2v6zm0-8h-2V7h2v2z",
};

export function knownSeverity(severity) {
  return SEVERITIES.includes(severity) ? severity : "info";
}

const templates = new Map();

/** An SVG icon for a severity, hidden from screen readers (the word goes next to it). */
export function severityIcon(severity) {
  const sev = knownSeverity(severity);
  if (!templates.has(sev)) templates.set(sev, buildIcon(sev));
  return templates.get(sev).cloneNode(true);
}

function buildIcon(sev) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", `sev-icon sev-${sev}`);
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", PATHS[sev]);
  svg.append(path);
  return svg;
}

/** Icon + word, e.g. [x] error, coloured by severity. */
export function severityBadge(severity) {
  const sev = knownSeverity(severity);
  const span = document.createElement("span");
  span.className = `sev-badge sev-${sev}`;
  span.append(severityIcon(sev), document.createTextNode(severity ?? sev));
  return span;
}
