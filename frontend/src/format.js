// Pure text helpers: no DOM, no fetch. Tested in test/format.test.js.

export const SEVERITIES = ["error", "warning", "info"];

const PLURALS = { error: "errors", warning: "warnings", info: "info" };

/** "1 error, 2 warnings" (zero counts left out); "No issues" when all are zero. */
export function countsSummary(counts) {
  const parts = SEVERITIES.filter((s) => (counts?.[s] ?? 0) > 0).map((s) =>
    plural(counts[s], s, PLURALS[s]),
  );
  return parts.length ? parts.join(", ") : "No issues";
}

/** "1 record", "3 records". */
export function plural(n, one, many = `${one}s`) {
  return `${formatInt(n)} ${n === 1 ? one : many}`;
}

/** 12345 -> "12,345" (fixed locale so output does not depend on the browser). */
export function formatInt(n) {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** A fraction as a short percentage: 0.012 -> "1.2%", 0.0004 -> "<0.1%". */
export function percent(fraction) {
  const p = fraction * 100;
  if (p > 0 && p < 0.1) return "<0.1%";
  return `${p < 10 ? trimZeros(p.toFixed(1)) : Math.round(p)}%`;
}

/** "SCRAM used 1.2% of training time"; "—" when not recorded. */
export function overheadText(overhead) {
  if (!overhead || typeof overhead.fraction !== "number") return "—";
  return `SCRAM used ${percent(overhead.fraction)} of training time`;
}

/** Tooltip for the overhead: "0.31 s of 25.4 s of training". */
export function overheadDetail(overhead) {
  if (!overhead) return "SCRAM has not recorded its cost for this run yet";
  const { scram_seconds: scram, train_seconds: train } = overhead;
  if (typeof scram !== "number" || typeof train !== "number") return "";
  return `${formatNumber(scram)} s of ${formatNumber(train)} s of training`;
}

/** A note for undecodable records, or "" when there are none. */
export function skippedNote(skipped) {
  if (!skipped) return "";
  return `${plural(skipped, "record")} could not be read (corrupt or from a newer SCRAM)`;
}

/** The label shown for a run: "lr_high/scram" -> "lr_high", "scram" -> ".". */
export function runLabel(run) {
  if (run === "scram") return ".";
  return run.endsWith("/scram") ? run.slice(0, -"/scram".length) : run;
}

/** "step 312 · epoch 1", or "step 312" without an epoch. */
export function stepLabel(step, epoch) {
  const s = `step ${formatInt(step)}`;
  return epoch === null || epoch === undefined ? s : `${s} · epoch ${epoch}`;
}

/** A number for people: integers as is, others with 4 significant digits. */
export function formatNumber(v) {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (Number.isInteger(v) && a < 1e6) return String(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-4)) return trimExponent(v.toExponential(3));
  return trimZeros(v.toPrecision(4));
}

/** An axis tick: short enough for the axis' width ("4e+21", "1e-4", "12,000", "0.25"). */
export function formatTick(v) {
  if (!Number.isFinite(v)) return "";
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return trimExponent(v.toExponential(1));
  return Number.isInteger(v) ? formatInt(v) : trimZeros(v.toPrecision(3));
}

/** An evidence value (number, string, boolean; anything else as JSON) as text. */
export function formatValue(v) {
  if (typeof v === "number") return formatNumber(v);
  if (typeof v === "string") return v;
  if (typeof v === "boolean" || v === null) return String(v);
  return JSON.stringify(v);
}

/** The URL itself when it is relative or http(s); null for javascript:, data: and the like. */
export function safeUrl(url) {
  if (typeof url !== "string" || url.trim() === "") return null;
  try {
    const parsed = new URL(url, "http://relative.invalid/");
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? url : null;
  } catch {
    return null;
  }
}

/** A time of day for "Updated 14:03:07". */
export function clockTime(date) {
  return [date.getHours(), date.getMinutes(), date.getSeconds()]
    .map((n) => String(n).padStart(2, "0"))
    .join(":");
}

function trimZeros(text) {
  return text.includes(".") && !text.includes("e") ? text.replace(/\.?0+$/, "") : text;
}

function trimExponent(text) {
  const [mantissa, exponent] = text.split("e");
  return `${trimZeros(mantissa)}e${exponent}`;
}
