// acme's notifications, verified and normalized: Stripe's scheme. The `Acme-Signature` header is
// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` (several v1 while a secret is
// rolled: any one matching is enough); a timestamp further than the tolerance from now is refused as
// stale, so a captured request cannot be replayed later. One event per request; its `id` is the
// notification id. Event types this platform acts on (any other is acknowledged and ignored, as
// Stripe expects of an endpoint):
//   payment_intent.succeeded / payment_intent.amount_capturable_updated / payment_intent.payment_failed
//     data.object = the charge (as the API answers it): a 3-D Secure challenge's result
//   charge.refunded / refund.failed    data.object = the refund: an asynchronous refund's result
//   charge.dispute.created / charge.dispute.closed    data.object = the dispute
import { z } from "zod";
import { fromDecimalString } from "../payment/core/money.ts";
import type { NotificationRequest, ParsedNotifications, PspNotification } from "./contract.ts";
import { ACME_DECLINES, DeclineCode } from "./decline-codes.ts";
import { hmacSha256, parseJsonBody, refused, sameBytes, verified } from "./notification-signature.ts";

export const ACME_SIGNATURE_HEADER = "acme-signature";
export const ACME_DEFAULT_TOLERANCE_SEC = 300;

const Reference = z.object({ reference: z.string().min(1).max(256) });
const Charge = z.object({
  id: z.string().min(1).max(256),
  object: z.literal("charge"),
  captured: z.boolean(),
  metadata: Reference,
  failure_code: z.string().max(128).nullish(),
  decline_code: z.string().max(128).nullish(),
});
const Refund = z.object({
  id: z.string().min(1).max(256),
  object: z.literal("refund"),
  charge: z.string().min(1).max(256),
  status: z.enum(["succeeded", "pending", "failed", "canceled"]),
  failure_reason: z.string().max(128).nullish(),
  metadata: Reference,
});
const Dispute = z.object({
  id: z.string().min(1).max(256),
  object: z.literal("dispute"),
  charge: z.string().min(1).max(256),
  amount: z.string().regex(/^\d+(\.\d+)?$/),
  currency: z.string().regex(/^[a-z]{3}$/),
  reason: z.string().max(256),
  status: z.string().max(64),
  metadata: Reference,
});
const AcmeEvent = z.object({
  id: z.string().min(1).max(256),
  object: z.literal("event"),
  type: z.string().min(1).max(128),
  created: z.number().int().nonnegative(),
  data: z.object({ object: z.record(z.string(), z.unknown()) }),
});

/** `t` and every `v1` of the header; undefined when it cannot be read. */
function signatureHeader(value: string | undefined): { t: number; v1: Buffer[] } | undefined {
  if (!value || value.length > 2048) return undefined;
  let t: number | undefined;
  const v1: Buffer[] = [];
  for (const part of value.split(",")) {
    const [k, v] = part.trim().split("=", 2);
    if (k === "t" && v && /^\d{1,12}$/.test(v)) t = Number(v);
    else if (k === "v1" && v && /^[0-9a-f]{64}$/i.test(v)) v1.push(Buffer.from(v, "hex"));
  }
  return t === undefined || v1.length === 0 ? undefined : { t, v1 };
}

/** The payment an unverifiable body claims to concern, read leniently (only to ask the PSP about it). */
function claimedReference(body: string): string | undefined {
  const parsed = parseJsonBody(body) as { data?: { object?: { metadata?: { reference?: unknown } } } };
  const ref = parsed?.data?.object?.metadata?.reference;
  return typeof ref === "string" && ref.length > 0 && ref.length <= 256 ? ref : undefined;
}

export function parseAcmeNotification(
  req: NotificationRequest,
  opts: { secret: string | undefined; toleranceSec?: number },
): ParsedNotifications {
  // No secret, no door: never a default one (config/env.ts).
  if (!opts.secret) return refused("not_configured");
  const header = signatureHeader(req.headers[ACME_SIGNATURE_HEADER]);
  if (!header) return refused("bad_signature", claimedReference(req.body));
  const expected = hmacSha256(opts.secret, `${header.t}.${req.body}`);
  // Every candidate is compared (no early exit), each in constant time.
  const matches = header.v1.map((sig) => sameBytes(sig, expected)).some(Boolean);
  if (!matches) return refused("bad_signature", claimedReference(req.body));
  const tolerance = opts.toleranceSec ?? ACME_DEFAULT_TOLERANCE_SEC;
  if (Math.abs(req.now.getTime() / 1000 - header.t) > tolerance)
    return refused("stale_timestamp", claimedReference(req.body));
  const event = AcmeEvent.safeParse(parseJsonBody(req.body));
  if (!event.success) return refused("malformed");
  const normalized = normalize(event.data);
  if (normalized === "malformed") return refused("malformed", claimedReference(req.body));
  return verified(normalized ? [normalized] : [], {
    status: 200,
    body: JSON.stringify({ received: true }),
    contentType: "application/json",
  });
}

type AcmeEvent = z.infer<typeof AcmeEvent>;

/** The event as a PspNotification; undefined for a type this platform does not act on. */
function normalize(e: AcmeEvent): PspNotification | undefined | "malformed" {
  const base = { id: e.id, psp: "acme", at: new Date(e.created * 1000).toISOString() };
  const obj = e.data.object;
  switch (e.type) {
    case "payment_intent.succeeded":
    case "payment_intent.amount_capturable_updated":
    case "payment_intent.payment_failed": {
      const c = Charge.safeParse(obj);
      if (!c.success) return "malformed";
      const ids = { ...base, paymentReference: c.data.metadata.reference, pspReference: c.data.id };
      if (e.type !== "payment_intent.payment_failed")
        return { ...ids, kind: "authorization", outcome: "authorized", captured: c.data.captured };
      const raw = c.data.decline_code ?? c.data.failure_code ?? "card_declined";
      const code = ACME_DECLINES[raw] ?? DeclineCode.unrecognizedDecline;
      return { ...ids, kind: "authorization", outcome: "declined", code, rawCode: raw };
    }
    case "charge.refunded":
    case "refund.failed": {
      const r = Refund.safeParse(obj);
      if (!r.success) return "malformed";
      const failed = e.type === "refund.failed" || r.data.status === "failed";
      if (!failed && r.data.status !== "succeeded") return undefined; // still pending: nothing final
      return {
        ...base,
        paymentReference: r.data.metadata.reference,
        pspReference: r.data.charge,
        kind: "refund",
        operationReference: r.data.id,
        outcome: failed ? "failed" : "succeeded",
        ...(failed ? { code: r.data.failure_reason ?? "refund_failed" } : {}),
      };
    }
    case "charge.dispute.created":
    case "charge.dispute.closed": {
      const d = Dispute.safeParse(obj);
      if (!d.success) return "malformed";
      const ids = {
        ...base,
        paymentReference: d.data.metadata.reference,
        pspReference: d.data.charge,
        disputeId: d.data.id,
      };
      if (e.type === "charge.dispute.closed") {
        if (d.data.status !== "won" && d.data.status !== "lost") return "malformed";
        return { ...ids, kind: "dispute_closed", outcome: d.data.status };
      }
      const currency = d.data.currency.toUpperCase();
      let amount: number;
      try {
        amount = fromDecimalString(d.data.amount, currency);
      } catch {
        return "malformed";
      }
      return { ...ids, kind: "dispute_opened", amount, currency, reason: d.data.reason };
    }
    default:
      return undefined;
  }
}
