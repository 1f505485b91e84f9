// What both PSPs' notification checks share: HMAC-SHA256 and a comparison that takes the same time
// whatever the bytes, so a forger learns nothing from how fast a wrong signature is refused.
import { createHmac, timingSafeEqual } from "node:crypto";
import { findUnsafeText } from "../payment/core/contract.ts";
import { PspNotification } from "../payment/core/notification.ts";
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

export const refused = (
  reason: "bad_signature" | "stale_timestamp" | "malformed" | "not_configured",
  paymentReference?: string,
): ParsedNotifications => ({ ok: false, reason, ...(paymentReference ? { paymentReference } : {}) });

/** The body as JSON; undefined when it is not JSON, too large, or holds what no store can keep. */
export function parseJsonBody(body: string): unknown {
  if (body.length > MAX_NOTIFICATION_BYTES) return undefined;
  try {
    const parsed = JSON.parse(body) as unknown;
    return findUnsafeText(parsed) ? undefined : parsed;
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
