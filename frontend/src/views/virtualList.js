// Virtual scrolling for a keyed list: only the rows in view (plus a margin) are in the DOM; the
// rows left out above and below are stood in for by the list's padding, so the scrollbar and
// scroll positions stay true. Row heights are measured as rows are shown (open cards are tall)
// and estimated for the rest. Short lists are rendered whole, exactly as before.
// The maths is in ../windowing.js.

import { reconcile } from "../dom.js";
import { rowOffsets, scrollTarget, typicalHeight, visibleWindow } from "../windowing.js";

/** Lists of up to this many rows are rendered whole (find-in-page and printing see everything). */
export const RENDER_ALL_UP_TO = 100;
const OVERSCAN_PX = 600;
const MAX_ROWS = 400;

/**
 * `list`: the element whose children are the rows (its vertical padding is ours).
 * `scroller`: the element that scrolls, or `window` when the page does.
 * `keyOf`, `create`, `update`: as for reconcile(). `sizeKeyOf(item)`: what a row's height depends
 * on (default: its key; the timeline adds whether the card is open). `estimate`: px for a row
 * never measured while none is.
 * Returns {setItems(items), show(key, align) -> node | null, forgetHeights()}. The views live as long
 * as the page, so the scroll and resize listeners are never removed.
 */
export function createVirtualList({ list, scroller, keyOf, create, update, sizeKeyOf = keyOf, estimate }) {
  let items = [];
  let keys = [];
  const heights = new Map(); // size key -> measured px
  let typical = estimate;
  let scheduled = 0;

  function setItems(next) {
    items = next;
    keys = items.map(keyOf);
    render();
  }

  function offsets() {
    return rowOffsets(items.map((item) => heights.get(sizeKeyOf(item)) ?? typical));
  }

  /** Puts the rows in view in the DOM; re-measures and goes again once if heights were off. */
  function render() {
    cancelAnimationFrame(scheduled);
    scheduled = 0;
    // Not in the page yet (a view is updated before it is shown): the top rows for now, and the
    // right ones on the next frame, once it is shown.
    if (!list.isConnected && items.length > RENDER_ALL_UP_TO) scheduled = requestAnimationFrame(renderIfShown);
    for (let pass = 0; pass < 2; pass += 1) {
      const win = windowNow();
      list.style.paddingTop = win.before ? `${win.before}px` : "";
      list.style.paddingBottom = win.after ? `${win.after}px` : "";
      reconcile(list, items.slice(win.start, win.end), keyOf, create, update);
      // A short list is whole: nothing to place, so no layout is forced to measure it.
      if (items.length <= RENDER_ALL_UP_TO || !measure(win)) break;
    }
  }

  function windowNow() {
    if (items.length <= RENDER_ALL_UP_TO) return { start: 0, end: items.length, before: 0, after: 0 };
    const view = viewSpan();
    return visibleWindow(offsets(), view.top, view.bottom, OVERSCAN_PX, MAX_ROWS);
  }

  function renderIfShown() {
    scheduled = 0;
    if (list.isConnected) render();
  }

  /** The viewport in list coordinates (0 = the top of the first row). */
  function viewSpan() {
    if (!list.isConnected) return { top: 0, bottom: window.innerHeight, height: window.innerHeight };
    const origin = list.getBoundingClientRect().top + list.clientTop;
    const box = scroller === window ? { top: 0, bottom: window.innerHeight } : scroller.getBoundingClientRect();
    return { top: box.top - origin, bottom: box.bottom - origin, height: box.bottom - box.top };
  }

  /** Records the heights of the rows shown; true when any differs from what the layout assumed. */
  function measure(win) {
    let changed = false;
    for (let i = win.start; i < win.end; i += 1) {
      const node = list._nodesByKey?.get(keys[i]);
      const height = node?.getBoundingClientRect().height ?? 0;
      if (!height) continue; // hidden (another view is shown): nothing learnt
      const sizeKey = sizeKeyOf(items[i]);
      if (Math.abs((heights.get(sizeKey) ?? typical) - height) > 0.5) changed = true;
      heights.set(sizeKey, height);
    }
    if (changed) typical = typicalHeight(heights, estimate);
    return changed;
  }

  function schedule() {
    if (!scheduled && items.length > RENDER_ALL_UP_TO) scheduled = requestAnimationFrame(renderIfShown);
  }

  /**
   * Scrolls the row of `key` into view ("nearest": as little as needed; "center"), renders, and
   * returns its node (null when the key is not listed). The caller may still scrollIntoView() the
   * node for a pixel-exact position once its real height is known.
   */
  function show(key, align = "nearest") {
    const index = keys.indexOf(key);
    if (index < 0) return null;
    if (items.length > RENDER_ALL_UP_TO) {
      const view = viewSpan();
      const target = scrollTarget(offsets(), index, view.top, view.height, align);
      if (Math.abs(target - view.top) >= 1) scrollByPx(target - view.top);
      render();
    }
    return list._nodesByKey?.get(key) ?? null;
  }

  function scrollByPx(dy) {
    if (scroller === window) window.scrollBy(0, dy);
    else scroller.scrollTop += dy;
  }

  scroller.addEventListener("scroll", schedule, { passive: true });
  window.addEventListener("resize", schedule);

  return { setItems, show, forgetHeights: () => heights.clear() };
}
