// Tiny DOM helpers. Text is always set with textContent / text nodes, never parsed as HTML.

/**
 * Creates an element. `props`: `class`, `text`, `dataset` (object), `on` (event -> handler),
 * `hidden`, and anything else as an attribute (null/false skipped). Children: nodes or strings.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) setProp(el, name, value);
  append(el, children);
  return el;
}

function setProp(el, name, value) {
  if (value === null || value === undefined || value === false) return;
  if (name === "text") el.textContent = String(value);
  else if (name === "class") el.className = value;
  else if (name === "dataset") Object.assign(el.dataset, value);
  else if (name === "on") for (const [type, fn] of Object.entries(value)) el.addEventListener(type, fn);
  else if (name === "hidden") el.hidden = true;
  else el.setAttribute(name, value === true ? "" : String(value));
}

/** Appends nodes and strings (as text nodes), skipping null/false; nested arrays are flattened. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Sets an attribute, or removes it when `value` is null/false. */
export function attr(el, name, value) {
  if (value === null || value === undefined || value === false) el.removeAttribute(name);
  else el.setAttribute(name, value === true ? "" : String(value));
}

/**
 * Makes `container`'s children the nodes for `items`, in order, reusing the node of each key
 * (so focus, open cards and scroll stay put). New nodes come from `create(item)`; every node
 * then goes through `update(node, item)`. Nodes already in order are not moved; new ones are
 * inserted in batches through a DocumentFragment.
 */
export function reconcile(container, items, keyOf, create, update) {
  const old = container._nodesByKey ?? new Map();
  const next = new Map();
  const nodes = items.map((item) => {
    const key = keyOf(item);
    const node = old.get(key) ?? create(item);
    next.set(key, node);
    update(node, item);
    return node;
  });
  for (const [key, node] of old) if (next.get(key) !== node) node.remove();
  let cursor = container.firstChild;
  let batch = null;
  const flush = () => {
    if (batch) container.insertBefore(batch, cursor);
    batch = null;
  };
  for (const node of nodes) {
    if (node === cursor) {
      flush();
      cursor = cursor.nextSibling;
    } else if (node.parentNode === container) {
      flush();
      container.insertBefore(node, cursor);
    } else {
      (batch ??= document.createDocumentFragment()).append(node);
    }
  }
  flush();
  container._nodesByKey = next;
}
