// Stripe's request encoding, read: `application/x-www-form-urlencoded` pairs whose keys use bracket
// notation (`metadata[order]=1`, `payment_method_data[card][number]=…`, `expand[0]=…`), as the
// official SDK writes them (stripe/cjs/utils.js stringifyRequestData), into a nested object of
// strings. No installed library does this (qs is not a dependency), so it is here, small, with
// every guard an edge needs: pairs, key length, depth, duplicates, conflicts, bad percent-encoding,
// NUL and lone surrogates. Objects have no prototype: a `__proto__` key is a key like any other.

export const FORM_LIMITS = { pairs: 256, keyLength: 200, depth: 5 } as const;

export type FormValue = string | FormObject | FormValue[];
export type FormObject = { [key: string]: FormValue };

/** A refusal of the encoding itself, naming the parameter (never its value). */
export class FormError extends Error {
  override name = "FormError";
  constructor(
    message: string,
    readonly param: string | undefined,
  ) {
    super(message);
  }
}

const UNSAFE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const SEGMENT = /\[([^[\]]*)\]/y;

function decode(raw: string, what: string): string {
  let text: string;
  try {
    text = decodeURIComponent(raw.replace(/\+/g, " "));
  } catch {
    throw new FormError(`Invalid percent-encoding in ${what}.`, undefined);
  }
  if (UNSAFE.test(text))
    throw new FormError(`Invalid characters (NUL or an unpaired surrogate) in ${what}.`, undefined);
  return text;
}

/** `a[b][0]` → ["a", "b", "0"]; refuses what is not a name followed by bracketed segments. */
function pathOf(key: string): string[] {
  const open = key.indexOf("[");
  const head = open < 0 ? key : key.slice(0, open);
  if (head === "") throw new FormError("A parameter has an empty name.", undefined);
  const path = [head];
  if (open < 0) return path;
  SEGMENT.lastIndex = open;
  while (SEGMENT.lastIndex < key.length) {
    const m = SEGMENT.exec(key);
    if (!m) throw new FormError(`Invalid bracket notation in parameter ${head}.`, head);
    path.push(m[1] ?? "");
  }
  if (path.length - 1 > FORM_LIMITS.depth)
    throw new FormError(`Parameter ${head} is nested more than ${FORM_LIMITS.depth} levels deep.`, head);
  return path;
}

type Node = Map<string, Node | string>;

/** The form's pairs as a nested object; arrays where every key of a level is 0…n-1. */
export function parseForm(body: string): FormObject {
  const root: Node = new Map();
  if (body === "") return {};
  const pairs = body.split("&");
  if (pairs.length > FORM_LIMITS.pairs)
    throw new FormError(`Too many parameters (more than ${FORM_LIMITS.pairs}).`, undefined);
  for (const pair of pairs) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const rawKey = eq < 0 ? pair : pair.slice(0, eq);
    if (rawKey.length > FORM_LIMITS.keyLength * 3)
      throw new FormError("A parameter name is too long.", undefined);
    const key = decode(rawKey, "a parameter name");
    if (key.length > FORM_LIMITS.keyLength) throw new FormError("A parameter name is too long.", undefined);
    const value = decode(eq < 0 ? "" : pair.slice(eq + 1), `parameter ${key}`);
    insert(root, pathOf(key), value, key);
  }
  return toObject(root) as FormObject;
}

function insert(root: Node, path: string[], value: string, key: string): void {
  let node = root;
  for (let i = 0; i < path.length; i++) {
    let seg = path[i]!;
    const last = i === path.length - 1;
    // `a[]=x&a[]=y`: the next index.
    if (seg === "" && i > 0) seg = String(node.size);
    const existing = node.get(seg);
    if (last) {
      if (existing !== undefined)
        throw new FormError(
          typeof existing === "string"
            ? `Parameter ${key} is given more than once.`
            : `Parameter ${key} is both a value and an object.`,
          key,
        );
      node.set(seg, value);
      return;
    }
    if (typeof existing === "string")
      throw new FormError(`Parameter ${key} is both a value and an object.`, key);
    const child: Node = existing ?? new Map<string, Node | string>();
    if (existing === undefined) node.set(seg, child);
    node = child;
  }
}

function toObject(node: Node): FormValue {
  const keys = [...node.keys()];
  const isArray = keys.length > 0 && keys.every((k, i) => k === String(i));
  const out: FormValue[] | FormObject = isArray ? [] : (Object.create(null) as FormObject);
  for (const [k, v] of node) {
    const value = typeof v === "string" ? v : toObject(v);
    if (Array.isArray(out)) out.push(value);
    else out[k] = value;
  }
  return out;
}

/** A query string (after `?`) read the same way: the SDK sends list parameters in it. */
export function parseQuery(url: string): FormObject {
  const q = url.indexOf("?");
  return q < 0 ? {} : parseForm(url.slice(q + 1));
}
