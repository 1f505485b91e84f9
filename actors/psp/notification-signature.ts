// What both PSPs' notification checks share: HMAC-SHA256 and a comparison that takes the same time
// whatever the bytes, so a forger learns nothing from how fast a wrong signature is refused.
import { createHmac, timingSafeEqual } from "node:crypto";
import { PspNotification } from "../payment/notification.ts";
import type { ParsedNotifications } from "./contract.ts";

export function hmacSha256(key: string | Buffer, data: string): Buffer {
  return createHmac("sha256", key).update(data, "utf8").digest();
}

/** Constant-time equality of two byte strings; different lengths are unequal (length is no secret). */
export function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The largest notification body the door takes and a connector reads: far above any real batch, and a
 * flood cannot fill memory.
 */
export const MAX_NOTIFICATION_BYTES = 256 * 1024;

/** Deeper than any PSP's format (bolt's is 5 levels): past it a body is refused, never walked further. */
export const MAX_NOTIFICATION_DEPTH = 32;

export const refused = (
  reason: "bad_signature" | "stale_timestamp" | "malformed" | "not_configured",
  paymentReference?: string,
): ParsedNotifications => ({ ok: false, reason, ...(paymentReference ? { paymentReference } : {}) });

/** A NUL, or a surrogate without its pair: text PostgreSQL (and every JSON consumer after it) refuses. */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export type Unstorable = { field: string; problem: "nul_or_unpaired_surrogate" | "too_deep" };

/**
 * The first place in a parsed body that no store downstream could hold (a NUL or an unpaired
 * surrogate in a string or a key), or where it nests deeper than MAX_NOTIFICATION_DEPTH; undefined
 * when there is none. Walked without recursion, so no nesting can overflow the stack.
 */
export function unstorableText(value: unknown): Unstorable | undefined {
  const stack: Array<{ v: unknown; path: string; depth: number }> = [{ v: value, path: "", depth: 0 }];
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop()!;
    if (typeof v === "string") {
      if (UNSTORABLE.test(v)) return { field: path || "(body)", problem: "nul_or_unpaired_surrogate" };
      continue;
    }
    if (typeof v !== "object" || v === null) continue;
    if (depth >= MAX_NOTIFICATION_DEPTH) return { field: path || "(body)", problem: "too_deep" };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--)
        stack.push({ v: v[i] as unknown, path: `${path}[${i}]`, depth: depth + 1 });
      continue;
    }
    for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
      const at = path ? `${path}.${k}` : k;
      // A key is named by its parent: it may itself be what cannot be shown.
      if (UNSTORABLE.test(k))
        return { field: `${path || "(body)"}[key]`, problem: "nul_or_unpaired_surrogate" };
      stack.push({ v: child, path: at, depth: depth + 1 });
    }
  }
  return undefined;
}

/** The body as JSON; undefined when it is not JSON, too large, or holds what no store can keep. */
export function parseJsonBody(body: string): unknown {
  if (body.length > MAX_NOTIFICATION_BYTES) return undefined;
  try {
    const parsed = JSON.parse(body) as unknown;
    return unstorableText(parsed) ? undefined : parsed;
  } catch {
    return undefined;
  }
}

/**
 * The verified notifications with the acknowledgement the PSP expects; malformed when one of them does
 * not hold what the payment's contract needs (a currency we do not know, an over-long id).
 */
export function verified(
  notifications: readonly PspNotification[],
  ack: { status: number; body: string; contentType: string },
): ParsedNotifications {
  const checked: PspNotification[] = [];
  for (const n of notifications) {
    const r = PspNotification.safeParse(n);
    if (!r.success) return refused("malformed", n.paymentReference);
    checked.push(r.data);
  }
  return { ok: true, notifications: checked, ack };
}
