// Pure maths for virtual scrolling: which rows of a long list to put in the DOM for a viewport,
// from known or estimated row heights. No DOM. Tested in test/windowing.test.js; the DOM side is
// views/virtualList.js.

/** Prefix sums of `heights`: offsets[i] is the top of row i, offsets[n] the list's whole height. */
export function rowOffsets(heights) {
  const offsets = new Float64Array(heights.length + 1);
  for (let i = 0; i < heights.length; i += 1) offsets[i + 1] = offsets[i] + Math.max(0, heights[i]);
  return offsets;
}

/** The row that contains `y` (list coordinates), clamped to the first and last rows; -1 without rows. */
export function rowAt(offsets, y) {
  const n = offsets.length - 1;
  if (n <= 0) return -1;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid] <= y) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * The rows to render for a viewport spanning [top, bottom) in list coordinates, widened by
 * `overscan` pixels on each side and capped at `maxRows` rows (a guard against tiny or zero
 * heights). Returns {start, end (exclusive), before, after}: `before` and `after` are the heights
 * of the rows left out above and below, which the list keeps as padding so the scrollbar is true.
 */
export function visibleWindow(offsets, top, bottom, overscan = 0, maxRows = Infinity) {
  const n = offsets.length - 1;
  const total = n > 0 ? offsets[n] : 0;
  if (n <= 0) return { start: 0, end: 0, before: 0, after: 0 };
  if (total <= 0) return { start: 0, end: Math.min(n, Math.max(1, maxRows)), before: 0, after: 0 }; // nothing measured has a size
  const from = Math.min(Math.max(top - overscan, 0), total);
  const to = Math.max(Math.min(bottom + overscan, total), from);
  const start = rowAt(offsets, from);
  const last = rowAt(offsets, to); // the bottom is exclusive: a row starting exactly there is out
  let end = Math.max(offsets[last] < to ? last + 1 : last, start + 1);
  if (to === from && from === total) end = n; // scrolled past the end: show the last row
  end = Math.min(end, start + Math.max(1, maxRows), n);
  return { start, end, before: offsets[start], after: total - offsets[end] };
}

/**
 * Where the viewport's top should go (list coordinates) to show row `index`:
 * "center" puts the row in the middle, "nearest" scrolls as little as possible (not at all when
 * the row is already in view). `viewTop` is where the viewport's top is now.
 */
export function scrollTarget(offsets, index, viewTop, viewHeight, align = "nearest") {
  const rowTop = offsets[index];
  const rowHeight = offsets[index + 1] - rowTop;
  if (align === "center") return Math.max(0, rowTop + rowHeight / 2 - viewHeight / 2);
  if (rowTop < viewTop) return rowTop;
  if (rowTop + rowHeight > viewTop + viewHeight) return Math.max(0, rowTop + rowHeight - viewHeight);
  return viewTop;
}

/**
 * The height to assume for a row never measured: the median of those measured (a few open cards
 * do not inflate it), else `fallback`.
 */
export function typicalHeight(measured, fallback) {
  const heights = [...measured.values()].sort((a, b) => a - b);
  if (!heights.length) return fallback;
  const mid = heights.length >> 1;
  return heights.length % 2 ? heights[mid] : (heights[mid - 1] + heights[mid]) / 2;
}
