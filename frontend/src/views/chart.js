// The loss/accuracy chart (uPlot on a canvas) with diagnostics as an overlay of marker buttons.

import uPlot from "uplot";
import { h, reconcile } from "../dom.js";
import { formatInt, formatTick, plural } from "../format.js";
import { alignSeries, axisFor, gapNotes, lossDistribution, seriesOrder } from "../chartData.js";
import { clusterMarkers, nearestIndex } from "../chartMarkers.js";
import { knownSeverity, severityIcon } from "../icons.js";

const HEIGHT = 260;
const NEAR_PX = 10;
const MARKER_BAND = 30;
const PALETTE = { loss: "--c-loss", acc: "--c-acc" };
const ticks = (u, splits) => splits.map(formatTick);

/** `actions.reveal(steps)`: open and scroll to the diagnostics at those steps. Returns {el, update, destroy}. */
export function createChart(actions) {
  const plotBox = h("div", { class: "chart-plot" });
  const message = h("p", { class: "note chart-note", hidden: true });
  const gaps = h("p", { class: "chart-gaps", "data-testid": "chart-gaps", hidden: true });
  const el = h("section", { class: "chart", "data-testid": "chart", "aria-label": "Loss and accuracy by step" }, plotBox, message, gaps);
  const markers = h("div", { class: "markers", "data-testid": "chart-markers" });
  let plot = null;
  let shape = "";
  let rows = [];
  let clusters = [];
  let source = "";
  let lastPayload = null;

  function build(aligned) {
    plot?.destroy();
    const colors = themeColors();
    plot = new uPlot(options(aligned, colors, plotBox.clientWidth || 800), [aligned.xs, ...aligned.ys], plotBox);
    plot.over.append(markers);
    attachNearClick(plot.over);
  }

  function options(aligned, colors, width) {
    const hasAcc = aligned.names.some((n) => axisFor(n) === "acc");
    const axis = (extra) => ({ stroke: colors.fg, grid: { stroke: colors.grid, width: 1 }, ticks: { stroke: colors.grid, width: 1 }, ...extra });
    return {
      width,
      height: HEIGHT,
      padding: [MARKER_BAND, null, null, null], // a band above the plot for the markers
      cursor: { drag: { x: true, y: false }, points: { size: 6 } },
      legend: { live: true },
      scales: { x: { time: false }, loss: lossDistribution(aligned) === 3 ? { distr: 3, log: 10 } : {} },
      series: [
        { label: "step", value: (u, v) => (v === null ? "—" : formatInt(v)) },
        ...aligned.names.map((name, i) => seriesOptions(name, aligned.ys[i], colors)),
      ],
      axes: [
        axis({ label: "step", labelSize: 18, size: 36 }),
        axis({ scale: "loss", label: "loss", labelSize: 18, size: 56, values: ticks }),
        ...(hasAcc ? [axis({ scale: "acc", label: "accuracy", labelSize: 18, side: 1, grid: { show: false }, values: ticks })] : []),
      ],
      hooks: { draw: [drawMarkers] },
    };
  }

  function drawMarkers(u) {
    clusters = clusterMarkers(rows, (step) => u.valToPos(step, "x"), 16).filter((c) => c.px >= -1 && c.px <= u.over.clientWidth + 1);
    drawLines(u, clusters);
    reconcile(markers, clusters, (c) => c.steps.join(","), (c) => createMarker(c, actions), updateMarker);
  }

  function attachNearClick(over) {
    let down = null;
    over.addEventListener("mousedown", (e) => (down = [e.clientX, e.clientY]));
    over.addEventListener("click", (e) => {
      if (e.target.closest(".marker")) return;
      if (down && Math.hypot(e.clientX - down[0], e.clientY - down[1]) > 3) return; // a drag-zoom
      const x = e.clientX - over.getBoundingClientRect().left;
      const i = nearestIndex(clusters.map((c) => c.px), x, NEAR_PX);
      if (i >= 0) actions.reveal(clusters[i].steps);
    });
  }

  /** series: the `series` route's payload (or null); visibleRows: the timeline's rows. */
  function update(seriesPayload, visibleRows) {
    rows = visibleRows;
    lastPayload = seriesPayload;
    const sorted = [...(seriesPayload?.series ?? [])].sort(seriesOrder);
    const notes = gapNotes(sorted);
    gaps.textContent = notes.join(" · ");
    gaps.hidden = !notes.length;
    const aligned = alignSeries(sorted);
    if (!aligned.xs.length) return showMessage(seriesPayload ? "No loss curve recorded for this run yet." : "Loading the loss curve…");
    showMessage("");
    const extraSteps = rows.map((r) => r.d.step);
    const withMarkers = alignSeries(sorted, extraSteps);
    const nextShape = `${withMarkers.names.join("|")}#${themeKey()}#${lossDistribution(withMarkers)}`;
    const nextSource = JSON.stringify([withMarkers.xs, withMarkers.ys]);
    if (!plot || nextShape !== shape) {
      shape = nextShape;
      source = nextSource;
      build(withMarkers);
    } else if (nextSource !== source) {
      source = nextSource;
      plot.setData([withMarkers.xs, ...withMarkers.ys]);
    } else {
      plot.redraw(false);
    }
  }

  function showMessage(text) {
    message.textContent = text;
    message.hidden = !text;
    plotBox.hidden = Boolean(text);
    if (text) {
      plot?.destroy();
      plot = null;
      shape = "";
    }
  }

  const resize = new ResizeObserver(() => plot && plotBox.clientWidth && plot.setSize({ width: plotBox.clientWidth, height: HEIGHT }));
  resize.observe(plotBox);
  const scheme = matchMedia("(prefers-color-scheme: dark)");
  scheme.addEventListener("change", () => {
    shape = ""; // rebuild with the new theme's colours
    if (plot) update(lastPayload, rows);
  });

  return { el, update, destroy: () => (resize.disconnect(), plot?.destroy()) };
}

function seriesOptions(name, ys, colors) {
  const defined = ys.filter((v) => v !== undefined && v !== null).length;
  const isVal = name.startsWith("val_");
  return {
    label: name,
    scale: axisFor(name),
    stroke: colors[axisFor(name)][isVal ? 1 : 0],
    width: 1.5,
    dash: isVal ? [6, 4] : undefined,
    spanGaps: false,
    points: { show: defined <= 60, size: 5 },
    value: (u, v) => (v === null || v === undefined ? "—" : Number(v).toPrecision(4)),
  };
}

function drawLines(u, clusters) {
  const { ctx, bbox } = u;
  const colors = themeColors();
  ctx.save();
  ctx.lineWidth = devicePixelRatio;
  ctx.setLineDash([3 * devicePixelRatio, 3 * devicePixelRatio]);
  for (const c of clusters) {
    const x = Math.round(u.valToPos(c.step, "x", true)) + 0.5;
    ctx.strokeStyle = colors.severity[knownSeverity(c.severity)];
    ctx.globalAlpha = c.muted ? 0.25 : 0.7;
    ctx.beginPath();
    ctx.moveTo(x, bbox.top - 6 * devicePixelRatio);
    ctx.lineTo(x, bbox.top + bbox.height);
    ctx.stroke();
  }
  ctx.restore();
}

function createMarker(cluster, actions) {
  const button = h("button", {
    type: "button",
    class: "marker",
    "data-testid": "chart-marker",
    on: { click: () => actions.reveal(button._steps) },
  });
  return button;
}

function updateMarker(button, c) {
  const sev = knownSeverity(c.severity);
  button._steps = c.steps;
  button.dataset.step = String(c.step);
  button.dataset.severity = sev;
  button.className = `marker sev-${sev}${c.muted ? " muted" : ""}`;
  button.style.left = `${c.px}px`;
  const where = c.steps.length > 1 ? `steps ${formatInt(c.steps[0])}–${formatInt(c.steps[c.steps.length - 1])}` : `step ${formatInt(c.step)}`;
  const label = `${plural(c.count, "diagnostic")} at ${where} (worst: ${sev})${c.muted ? ", muted" : ""}`;
  button.setAttribute("aria-label", `${label}: show`);
  button.title = label;
  if (button._sev !== sev) button.replaceChildren(severityIcon(sev));
  button._sev = sev;
}

function themeKey() {
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

function themeColors() {
  const css = getComputedStyle(document.documentElement);
  const v = (name) => css.getPropertyValue(name).trim();
  return {
    fg: v("--fg-muted"),
    grid: v("--grid"),
    loss: [v(PALETTE.loss), v(`${PALETTE.loss}-2`)],
    acc: [v(PALETTE.acc), v(`${PALETTE.acc}-2`)],
    severity: { error: v("--sev-error"), warning: v("--sev-warning"), info: v("--sev-info") },
  };
}
