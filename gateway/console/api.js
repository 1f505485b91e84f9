// The console's one way to the server: /ops calls with the operator key from sessionStorage
// (this tab only, gone when it closes; never localStorage, never the URL). Errors come back as
// ApiFailure with the error envelope's code and message.

const KEY_ITEM = "switchyard.operatorKey";

export class ApiFailure extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(message);
    this.name = "ApiFailure";
    this.status = status;
    this.code = code;
  }
}

export const session = {
  key: () => sessionStorage.getItem(KEY_ITEM),
  /** @param {string} key */
  set: (key) => sessionStorage.setItem(KEY_ITEM, key),
  clear: () => sessionStorage.removeItem(KEY_ITEM),
};

/** Called when a call is refused for its key (401/403): the console goes back to its login. */
let onUnauthorized = () => {};
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

/**
 * @param {"GET" | "POST"} method
 * @param {string} path under /ops, query string included
 * @param {unknown} [body]
 * @param {string | null} [key] a key to try instead of the stored one (login)
 */
export async function ops(method, path, body, key = session.key()) {
  if (!key) throw new ApiFailure(401, "unauthorized", "no operator key");
  const headers = { authorization: `Bearer ${key}`, accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  let res;
  try {
    res = await fetch(`/ops${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
  } catch (err) {
    throw new ApiFailure(0, "network_error", `the gateway cannot be reached (${String(err)})`);
  }
  const raw = await res.text();
  let data = null;
  try {
    data = raw ? JSON.parse(raw) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const e = data && typeof data === "object" ? data.error : undefined;
    const failure = new ApiFailure(res.status, e?.code ?? `http_${res.status}`, e?.message ?? res.statusText);
    if ((res.status === 401 || res.status === 403) && key === session.key()) onUnauthorized(failure);
    throw failure;
  }
  return data;
}

/** The error as one line for the page: "code: message". */
export function describe(err) {
  return err instanceof ApiFailure ? `${err.code}: ${err.message}` : String(err);
}

/** A query string of the non-empty fields. */
export function query(fields) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(fields))
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}
