import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import { append, attr, h, reconcile } from "../src/dom.js";
import { FakeText, installFakeDom } from "./fakeDom.js";

let doc;
beforeEach(() => {
  doc = installFakeDom();
});

/** A keyed list as the views use it: records which items were created and updated. */
function keyedList() {
  const list = {
    el: h("ol"),
    created: [],
    updated: [],
    render(items) {
      list.created = [];
      list.updated = [];
      reconcile(list.el, items, (item) => item.key, (item) => {
        list.created.push(item.key);
        return h("li", { dataset: { key: item.key } });
      }, (node, item) => {
        list.updated.push(item.key);
        node.textContent = item.label ?? item.key;
      });
      return [...list.el.childNodes];
    },
  };
  return list;
}

const items = (...keys) => keys.map((key) => ({ key }));
const keysOf = (nodes) => nodes.map((node) => node.dataset.key);
const touches = (container) => doc.log.filter((entry) => entry.parent === container);
const inserts = (container) => touches(container).filter((entry) => entry.op === "insert");

test("reconcile: the first render builds one node per item, in order, inserted in one batch", () => {
  const list = keyedList();
  const nodes = list.render(items("a", "b", "c"));
  assert.deepEqual(keysOf(nodes), ["a", "b", "c"]);
  assert.deepEqual(list.created, ["a", "b", "c"]);
  assert.deepEqual(list.updated, ["a", "b", "c"]);
  assert.equal(list.el.textContent, "abc");
  assert.equal(inserts(list.el).length, 1);
});

test("reconcile: a refresh with the same keys reuses every node, updates it, and moves none", () => {
  const list = keyedList();
  const before = list.render(items("a", "b", "c"));
  doc.log = [];
  const after = list.render([{ key: "a", label: "A" }, { key: "b", label: "B" }, { key: "c", label: "C" }]);
  assert.equal(after.length, before.length);
  after.forEach((node, i) => assert.equal(node, before[i]));
  assert.deepEqual(list.created, []);
  assert.deepEqual(list.updated, ["a", "b", "c"]);
  assert.equal(list.el.textContent, "ABC");
  assert.deepEqual(touches(list.el), []);
});

test("reconcile: removed keys lose their node, new keys get one in place, the others keep theirs", () => {
  const list = keyedList();
  const [a, b, c, d] = list.render(items("a", "b", "c", "d"));
  const nodes = list.render(items("a", "x", "c", "y"));
  assert.deepEqual(keysOf(nodes), ["a", "x", "c", "y"]);
  assert.equal(nodes[0], a);
  assert.equal(nodes[2], c);
  assert.deepEqual(list.created, ["x", "y"]);
  assert.equal(b.parentNode, null);
  assert.equal(d.parentNode, null);
});

test("reconcile: removing keys moves none of the remaining nodes", () => {
  const list = keyedList();
  list.render(items("a", "b", "c", "d"));
  doc.log = [];
  const nodes = list.render(items("a", "c"));
  assert.deepEqual(keysOf(nodes), ["a", "c"]);
  assert.deepEqual(inserts(list.el), []);
  assert.equal(touches(list.el).length, 2, "one removal per dropped key");
});

test("reconcile: a reorder keeps every node, so state held on them survives", () => {
  const list = keyedList();
  const before = list.render(items("a", "b", "c", "d"));
  before[1].open = true; // what a view keeps on its row: an open card, focus
  const after = list.render(items("d", "c", "b", "a"));
  assert.deepEqual(keysOf(after), ["d", "c", "b", "a"]);
  assert.equal(after.length, before.length);
  after.forEach((node, i) => assert.equal(node, before[before.length - 1 - i]));
  assert.equal(after[2].open, true);
  assert.deepEqual(list.created, []);
});

test("reconcile: new nodes between kept ones go in one batch per gap", () => {
  const list = keyedList();
  const [a, b] = list.render(items("a", "b"));
  doc.log = [];
  const nodes = list.render(items("x1", "x2", "a", "y1", "y2", "b", "z1"));
  assert.deepEqual(keysOf(nodes), ["x1", "x2", "a", "y1", "y2", "b", "z1"]);
  assert.equal(nodes[2], a);
  assert.equal(nodes[5], b);
  assert.deepEqual(list.created, ["x1", "x2", "y1", "y2", "z1"]);
  assert.equal(inserts(list.el).length, 3);
});

test("reconcile: moves and new nodes mixed still give the items' order", () => {
  const list = keyedList();
  const old = list.render(items("a", "b", "c", "d", "e"));
  const nodes = list.render(items("e", "new1", "c", "a", "new2"));
  assert.deepEqual(keysOf(nodes), ["e", "new1", "c", "a", "new2"]);
  assert.deepEqual([nodes[0], nodes[2], nodes[3]], [old[4], old[2], old[0]]);
  assert.deepEqual(list.created, ["new1", "new2"]);
  assert.equal(old[1].parentNode, null);
  assert.equal(old[3].parentNode, null);
});

test("reconcile: the key map names the current node of each key (the timeline's reveal reads it)", () => {
  const list = keyedList();
  const nodes = list.render(items("a", "b"));
  assert.deepEqual([...list.el._nodesByKey.keys()], ["a", "b"]);
  assert.equal(list.el._nodesByKey.get("b"), nodes[1]);
  list.render(items("b"));
  assert.deepEqual([...list.el._nodesByKey.keys()], ["b"]);
});

test("reconcile: an empty list clears the container (no create or update needed), and a key seen again is rebuilt", () => {
  const list = keyedList();
  const [a] = list.render(items("a", "b"));
  reconcile(list.el, [], () => "", null, null); // how the timeline starts afresh for another run
  assert.equal(list.el.childNodes.length, 0);
  const nodes = list.render(items("a"));
  assert.deepEqual(list.created, ["a"]);
  assert.notEqual(nodes[0], a);
});

test("reconcile: each container keeps its own nodes", () => {
  const left = keyedList();
  const right = keyedList();
  const l = left.render(items("a", "b"));
  const r = right.render(items("a", "b"));
  assert.equal(l.length, r.length);
  l.forEach((node, i) => assert.notEqual(node, r[i]));
  right.render(items("b"));
  assert.deepEqual(keysOf([...left.el.childNodes]), ["a", "b"]);
  assert.equal(left.el.childNodes[0], l[0]);
});

const XSS = "<img src=x onerror=alert(1)>";

test("h: text goes in as a text node, never as HTML", () => {
  const el = h("p", { text: XSS });
  assert.equal(el.textContent, XSS);
  assert.equal(el.childNodes.length, 1);
  assert.ok(el.childNodes[0] instanceof FakeText);
  assert.equal(el.children.length, 0);
});

test("h: class, dataset, hidden, listeners, and attributes (null/false/undefined left out)", () => {
  let clicks = 0;
  const el = h("button", {
    class: "diag-head", dataset: { check: "nan_loss", step: "312" }, hidden: true, on: { click: () => clicks++ },
    type: "button", "aria-pressed": true, disabled: false, title: null, "aria-label": undefined, tabindex: 0,
  });
  assert.equal(el.tagName, "BUTTON");
  assert.equal(el.className, "diag-head");
  assert.equal(el.getAttribute("data-check"), "nan_loss");
  assert.equal(el.getAttribute("data-step"), "312");
  assert.equal(el.hidden, true);
  assert.equal(el.getAttribute("type"), "button");
  assert.equal(el.getAttribute("aria-pressed"), "");
  assert.equal(el.getAttribute("tabindex"), "0");
  for (const name of ["disabled", "title", "aria-label"]) assert.equal(el.hasAttribute(name), false, name);
  el.fire("click");
  assert.equal(clicks, 1);
});

test("h and append: strings become text nodes, arrays are flattened, null/false skipped, 0 kept", () => {
  const child = h("b", { text: "bold" });
  const el = h("div", {}, "one ", [child, [null, false, undefined, " two"]], 0);
  assert.equal(el.textContent, "one bold two0");
  assert.equal(el.childNodes.length, 4);
  assert.equal(el.childNodes[1], child);
  assert.equal(append(el, [[XSS]]), el);
  assert.equal(el.childNodes.length, 5);
  assert.equal(el.childNodes[4].textContent, XSS);
  assert.equal(el.children.length, 1);
});

test("attr: sets strings, true as empty, removes on null/false/undefined, keeps 0", () => {
  const el = h("button");
  attr(el, "aria-expanded", "true");
  assert.equal(el.getAttribute("aria-expanded"), "true");
  attr(el, "disabled", true);
  assert.equal(el.getAttribute("disabled"), "");
  attr(el, "data-count", 0);
  assert.equal(el.getAttribute("data-count"), "0");
  for (const off of [null, false, undefined]) {
    attr(el, "disabled", true);
    attr(el, "disabled", off);
    assert.equal(el.hasAttribute("disabled"), false, String(off));
  }
});
