// The backend's JSON routes (docs/routes.md), fetched relative to the iframe's <base href>.

/** An error with a message fit to show: "HTTP 404: unknown run 'x'" or "network error: ...". */
export class ApiError extends Error {}

/** GETs `path` with query `params` (arrays become repeated keys) and returns parsed JSON. */
export async function getJSON(path, params = {}, fetchImpl = globalThis.fetch) {
  const url = `./${path}${queryString(params)}`;
  let response;
  try {
    response = await fetchImpl(url, { headers: { Accept: "application/json" }, cache: "no-store" });
  } catch (error) {
    throw new ApiError(`network error (${error?.message ?? error})`);
  }
  const body = await response.text();
  const data = parseJSON(body);
  if (!response.ok) {
    const detail = typeof data?.error === "string" ? data.error : response.statusText;
    throw new ApiError(`HTTP ${response.status}${detail ? `: ${detail}` : ""}`);
  }
  if (data === undefined) throw new ApiError("the server answered with something that is not JSON");
  return data;
}

/** "?run=a&run=b" from {run: ["a", "b"]}; "" when empty. */
export function queryString(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const v of [].concat(value)) search.append(key, v);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

function parseJSON(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export const api = {
  runs: () => getJSON("runs"),
  diagnostics: (run) => getJSON("diagnostics", { run }),
  series: (run) => getJSON("series", { run }),
  compare: (runs) => getJSON("compare", { run: runs }),
  checks: () => getJSON("checks"),
};
