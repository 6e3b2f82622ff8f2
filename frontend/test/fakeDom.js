// A minimal DOM, just the parts src/dom.js uses, so h(), append(), attr() and reconcile() can be
// unit-tested in node with no browser and no dependency. Where dom.js relies on DOM semantics it
// follows the spec: insertBefore moves a node that already has a parent, inserting a fragment
// moves its children and empties it, a reference node that is not a child throws. Every
// insertion or removal is logged on the document, so tests can count how often it was touched.
// Setting innerHTML throws: dom.js must never parse HTML. (Not a test file: no `.test.js`.)

class FakeNode {
  constructor(doc) {
    this.ownerDocument = doc;
    this.parentNode = null;
    this.childNodes = [];
  }

  get firstChild() {
    return this.childNodes[0] ?? null;
  }

  get nextSibling() {
    if (!this.parentNode) return null;
    const siblings = this.parentNode.childNodes;
    return siblings[siblings.indexOf(this) + 1] ?? null;
  }

  get textContent() {
    return this.childNodes.map((child) => child.textContent).join("");
  }

  set textContent(value) {
    for (const child of [...this.childNodes]) detach(child);
    if (String(value) !== "") adopt(this, this.ownerDocument.createTextNode(value), null);
  }

  insertBefore(node, ref) {
    if (ref !== null && ref.parentNode !== this) throw new Error("NotFoundError: the reference node is not a child");
    this.ownerDocument.log.push({ op: "insert", parent: this, node });
    const incoming = node instanceof FakeFragment ? [...node.childNodes] : [node];
    const before = ref === node ? node.nextSibling : ref; // the spec's rule for inserting a node before itself
    for (const child of incoming) adopt(this, child, before);
    return node;
  }

  append(...nodes) {
    for (const node of nodes) {
      this.insertBefore(node instanceof FakeNode ? node : this.ownerDocument.createTextNode(node), null);
    }
  }

  remove() {
    if (!this.parentNode) return;
    this.ownerDocument.log.push({ op: "remove", parent: this.parentNode, node: this });
    detach(this);
  }
}

function detach(node) {
  const siblings = node.parentNode.childNodes;
  siblings.splice(siblings.indexOf(node), 1);
  node.parentNode = null;
}

function adopt(parent, node, before) {
  if (node.parentNode) detach(node);
  const at = before === null ? parent.childNodes.length : parent.childNodes.indexOf(before);
  parent.childNodes.splice(at, 0, node);
  node.parentNode = parent;
}

class FakeText extends FakeNode {
  constructor(doc, data) {
    super(doc);
    this.data = String(data);
  }

  get textContent() {
    return this.data;
  }

  set textContent(value) {
    this.data = String(value);
  }
}

class FakeFragment extends FakeNode {}

const kebab = (name) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

class FakeElement extends FakeNode {
  constructor(doc, tag) {
    super(doc);
    this.tagName = tag.toUpperCase();
    this.attributes = new Map();
    this.listeners = new Map();
    // Like DOMStringMap: dataset.fooBar is the attribute data-foo-bar.
    this.dataset = new Proxy({}, {
      set: (_, key, value) => (this.setAttribute(`data-${kebab(key)}`, value), true),
      get: (_, key) => this.getAttribute(`data-${kebab(String(key))}`) ?? undefined,
    });
  }

  get children() {
    return this.childNodes.filter((child) => child instanceof FakeElement);
  }

  setAttribute(name, value) {
    this.attributes.set(name, String(value));
  }

  getAttribute(name) {
    return this.attributes.has(name) ? this.attributes.get(name) : null;
  }

  hasAttribute(name) {
    return this.attributes.has(name);
  }

  removeAttribute(name) {
    this.attributes.delete(name);
  }

  get className() {
    return this.getAttribute("class") ?? "";
  }

  set className(value) {
    this.setAttribute("class", value);
  }

  get hidden() {
    return this.hasAttribute("hidden");
  }

  set hidden(value) {
    if (value) this.setAttribute("hidden", "");
    else this.removeAttribute("hidden");
  }

  set innerHTML(_) {
    throw new Error("innerHTML used: dom.js must build nodes, never parse HTML");
  }

  addEventListener(type, fn) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }

  /** Calls the listeners of `type` (a test helper, not DOM API). */
  fire(type) {
    for (const fn of this.listeners.get(type) ?? []) fn({ type, target: this });
  }
}

/** Installs a fresh fake `document` and `Node` as globals and returns the document. */
export function installFakeDom() {
  const doc = {
    log: [],
    createElement: (tag) => new FakeElement(doc, tag),
    createTextNode: (data) => new FakeText(doc, data),
    createDocumentFragment: () => new FakeFragment(doc),
  };
  globalThis.document = doc;
  globalThis.Node = FakeNode;
  return doc;
}

export { FakeElement, FakeFragment, FakeText };
