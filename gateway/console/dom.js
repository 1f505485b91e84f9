// DOM helpers of the console. Everything that comes from the API becomes text nodes
// (textContent), never markup: no data ever goes through innerHTML.

/**
 * An element with properties (className, type, value, dataset entries under `data`, listeners as
 * `on<event>`) and children (nodes, or strings that become text).
 * @param {string} tag
 * @param {Record<string, unknown>} [props]
 * @param {...(Node | string | number | null | undefined | false)} children
 * @returns {HTMLElement}
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "data") Object.assign(node.dataset, value);
    else if (name.startsWith("on") && typeof value === "function")
      node.addEventListener(name.slice(2), /** @type {EventListener} */ (value));
    else if (name in node)
      /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (node))[name] = value;
    else node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" || typeof child === "number" ? String(child) : child);
  }
  return node;
}

/** A value as text: objects as JSON, absent values as an em dash. */
export function text(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** An amount in minor units with its currency, as the API gives it (no float arithmetic). */
export function money(amount, currency) {
  return amount === null || amount === undefined ? "—" : `${amount} ${currency ?? ""}`.trim();
}

/**
 * A table of rows. `columns`: [header, (row) => cell] pairs, the cell a node or a value; without
 * columns, one per key of the first row. `onRow` makes rows clickable.
 */
export function table(rows, columns, opts = {}) {
  if (rows.length === 0) return el("p", { className: "status" }, opts.empty ?? "Nothing to show.");
  const cols =
    columns ?? Object.keys(rows[0]).map((k) => [k, (/** @type {Record<string, unknown>} */ r) => r[k]]);
  const head = el("tr", {}, ...cols.map(([h]) => el("th", {}, h)));
  const body = rows.map((row, i) => {
    const cells = cols.map(([, cell]) => {
      const v = cell(row, i);
      return el("td", {}, v instanceof Node ? v : text(v));
    });
    const tr = el("tr", {}, ...cells);
    if (opts.onRow) {
      tr.className = "clickable";
      tr.tabIndex = 0;
      tr.addEventListener("click", () => opts.onRow(row));
      tr.addEventListener("keydown", (e) => {
        if (e.key === "Enter") opts.onRow(row);
      });
    }
    if (opts.rowData) Object.assign(tr.dataset, opts.rowData(row));
    return tr;
  });
  return el("table", { className: opts.className }, el("thead", {}, head), el("tbody", {}, ...body));
}

/** Replaces the children of the element with that id. */
export function show(id, ...children) {
  const node = byId(id);
  node.replaceChildren(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

/** A status line: a message, or an error (code and message) in red. */
export function status(id, message, isError = false) {
  const node = byId(id);
  node.textContent = message;
  node.classList.toggle("error", isError);
}

export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`no element #${id}`);
  return node;
}

/** A <select> of options (value = label). */
export function select(name, options) {
  return el("select", { name }, ...options.map((o) => el("option", { value: o }, o)));
}
