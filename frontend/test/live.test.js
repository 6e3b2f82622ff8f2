import assert from "node:assert/strict";
import { test } from "node:test";
import { listenForHostReload, startPolling } from "../src/live.js";

test("without a parent window the host link does nothing", () => {
  const win = {};
  win.parent = win;
  const stop = listenForHostReload(() => assert.fail("no reload expected"), win);
  stop();
});

test("DataReloaded from the host triggers a reload and gets a reply", async () => {
  let hostPort = null;
  const win = { parent: { postMessage: (message, origin, ports) => {
    assert.equal(message, "experimental.bootstrap");
    hostPort = ports[0];
  } } };
  let reloads = 0;
  const stop = listenForHostReload(() => reloads++, win);
  assert.ok(hostPort);
  const reply = new Promise((resolve) => (hostPort.onmessage = (e) => resolve(JSON.parse(e.data))));
  hostPort.postMessage(JSON.stringify({ type: "experimental.DataReloaded", id: 7, payload: null, error: null, isReply: false }));
  const answer = await reply;
  assert.deepEqual(answer, { type: "experimental.DataReloaded", id: 7, payload: null, error: null, isReply: true });
  assert.equal(reloads, 1);
  stop();
  hostPort.close();
});

test("polling ticks only while visible", async () => {
  const listeners = {};
  const doc = { visibilityState: "hidden", addEventListener: (t, f) => (listeners[t] = f), removeEventListener: () => {} };
  let ticks = 0;
  const stop = startPolling(() => ticks++, 20, doc);
  await new Promise((r) => setTimeout(r, 70));
  assert.equal(ticks, 0);
  doc.visibilityState = "visible";
  listeners.visibilitychange();
  assert.equal(ticks, 1);
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(ticks >= 2);
  stop();
});
