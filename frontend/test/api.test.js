import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError, getJSON, queryString } from "../src/api.js";

const reply = (status, body, statusText = "") => async (url) => ({
  ok: status >= 200 && status < 300, status, statusText, text: async () => body, url,
});

test("query strings repeat keys for arrays and escape names", () => {
  assert.equal(queryString({}), "");
  assert.equal(queryString({ run: "lr high/scram" }), "?run=lr+high%2Fscram");
  assert.equal(queryString({ run: ["a", "b&c"] }), "?run=a&run=b%26c");
});

test("getJSON fetches relative URLs and parses JSON", async () => {
  let asked = null;
  const data = await getJSON("diagnostics", { run: "a/scram" }, async (url) => {
    asked = url;
    return reply(200, '{"run": "a/scram"}')(url);
  });
  assert.equal(asked, "./diagnostics?run=a%2Fscram");
  assert.deepEqual(data, { run: "a/scram" });
});

test("errors carry the server's message", async () => {
  await assert.rejects(getJSON("series", { run: "x" }, reply(404, '{"error": "unknown run \'x\'"}', "NOT FOUND")),
    (e) => e instanceof ApiError && e.message === "HTTP 404: unknown run 'x'");
  await assert.rejects(getJSON("runs", {}, reply(502, "<html>bad gateway</html>", "Bad Gateway")),
    (e) => e instanceof ApiError && e.message === "HTTP 502: Bad Gateway");
  await assert.rejects(getJSON("runs", {}, reply(200, "not json")), /not JSON/);
  await assert.rejects(getJSON("runs", {}, async () => { throw new TypeError("Failed to fetch"); }),
    (e) => e instanceof ApiError && /network error \(Failed to fetch\)/.test(e.message));
});
