// Entry point: TensorBoard's plugin_entry.html does `import("./index.js").then(m => m.render())`.

import uplotCss from "uplot/dist/uPlot.min.css";
import { api } from "./api.js";
import { createApp } from "./app.js";
import { listenForHostReload, startPolling } from "./live.js";
import { safeStorage } from "./state.js";
import css from "./style.css";

let app = null;

/** Mounts the SCRAM panel into document.body (once; later calls just refresh it). */
export function render() {
  if (app) return app.refresh();
  injectStyle(`${uplotCss}\n${css}`);
  const root = document.createElement("div");
  root.id = "scram-root";
  root.className = "scram";
  document.body.append(root);
  app = createApp(root, { api, storage: safeStorage() });
  startPolling(() => app.refresh());
  listenForHostReload(() => app.refresh());
  return app.refresh();
}

function injectStyle(text) {
  const style = document.createElement("style");
  style.textContent = text;
  document.head.append(style);
}
