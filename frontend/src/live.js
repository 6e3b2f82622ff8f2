// Live updates: a poll every ~15 s while the page is visible, and TensorBoard's reload broadcast.

export const POLL_MS = 15000;

/**
 * Calls `tick()` every `intervalMs` while the document is visible, and at once when it becomes
 * visible again after a missed tick. Returns a stop function.
 */
export function startPolling(tick, intervalMs = POLL_MS, doc = document) {
  let last = Date.now();
  const run = () => {
    last = Date.now();
    tick();
  };
  const timer = setInterval(() => {
    if (doc.visibilityState === "visible") run();
  }, intervalMs);
  const onVisible = () => {
    if (doc.visibilityState === "visible" && Date.now() - last >= intervalMs) run();
  };
  doc.addEventListener("visibilitychange", onVisible);
  return () => {
    clearInterval(timer);
    doc.removeEventListener("visibilitychange", onVisible);
  };
}

/**
 * Asks the TensorBoard host (the parent window) for a message port and calls `onReload()` when it
 * broadcasts "experimental.DataReloaded". Does nothing when the panel is opened on its own.
 * The host speaks JSON strings {type, id, payload, error, isReply} and waits for a reply.
 */
export function listenForHostReload(onReload, win = window) {
  if (!win.parent || win.parent === win || typeof MessageChannel === "undefined") return () => {};
  const channel = new MessageChannel();
  const port = channel.port1;
  port.onmessage = (event) => {
    const message = parseMessage(event.data);
    if (!message || message.isReply) return;
    if (message.type === "experimental.DataReloaded") onReload();
    port.postMessage(JSON.stringify({ type: message.type, id: message.id, payload: null, error: null, isReply: true }));
  };
  try {
    win.parent.postMessage("experimental.bootstrap", "*", [channel.port2]);
  } catch {
    return () => {};
  }
  return () => port.close();
}

function parseMessage(data) {
  try {
    const message = typeof data === "string" ? JSON.parse(data) : data;
    return message && typeof message.type === "string" ? message : null;
  } catch {
    return null;
  }
}
