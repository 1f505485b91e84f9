// Deterministic ids: idempotency lives in the entity. The payment id is derived from
// (merchant, Idempotency-Key), a follow-up's operation id from (payment, operation, key), so the
// same request always addresses the same entity, from any gateway, after any restart. Internal
// systems that publish commands to NATS derive ids with these same functions.
import { createHash } from "node:crypto";

function digest(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 24);
}

export function paymentIdFor(merchantId: string, idempotencyKey: string): string {
  return `pay_${digest("payment", merchantId, idempotencyKey)}`;
}

/**
 * The shape of every payment id paymentIdFor makes: what a free-text reference is checked against,
 * and what a log line may call a payment id (anything else in a path may be a card number).
 */
export const PAYMENT_ID_SHAPE = /^pay_[0-9a-f]{24}$/;
export const isPaymentId = (s: string | null | undefined): boolean =>
  typeof s === "string" && PAYMENT_ID_SHAPE.test(s);

export function operationIdFor(paymentId: string, operation: string, idempotencyKey: string): string {
  return `op_${digest(operation, paymentId, idempotencyKey)}`;
}

/** The PSP idempotency key of an authorization attempt: the same attempt always sends the same key. */
export function attemptKey(paymentId: string, attemptNo: number): string {
  return `${paymentId}.a${attemptNo}`;
}

/** The PSP idempotency key of a capture, void or refund. */
export function operationKey(paymentId: string, operationId: string): string {
  return `${paymentId}.${operationId}`;
}

/**
 * JSON with object keys sorted, so the same body always hashes the same. Keys whose value is
 * undefined are left out, as JSON.stringify does. Built in one string, without the entry arrays and
 * closures a map/filter/sort/join version allocates per object: it runs on every payment request
 * (the request fingerprint), and its output is stored in events, so it must never change.
 */
export function canonicalJson(value: unknown): string {
  if (typeof value !== "object" || value === null) return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      // An element JSON cannot write (undefined, a function) was an empty string in Array#join.
      out += (canonicalJson(value[i]) as string | undefined) ?? "";
    }
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  // Default sort: UTF-16 code unit order, as `a < b` compares strings.
  const keys = Object.keys(record).sort();
  let out = "{";
  for (const k of keys) {
    const v = record[k];
    if (v === undefined) continue;
    if (out.length > 1) out += ",";
    out += `${JSON.stringify(k)}:${canonicalJson(v)}`;
  }
  return `${out}}`;
}
