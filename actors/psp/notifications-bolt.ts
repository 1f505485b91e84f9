// bolt's notifications, verified and normalized: Adyen's scheme. A batch
// `{live, notificationItems: [{NotificationRequestItem: {...}}]}` whose every item carries its own
// `additionalData.hmacSignature`: base64 HMAC-SHA256, under the hex key, of the named fields joined by
// ':' (pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:eventCode:
// success, an absent field as ""). One bad item refuses the whole batch (nothing of it is acted on, so
// the PSP's retry brings it all again). The batch is acknowledged with the body `[accepted]`.
// Only those eight fields are signed, and nothing is timestamped, so every decision rests on them:
// `additionalData` (disputeStatus, disputePspReference, autoCapture...) can be edited by anyone who
// captured one genuine item, and is never used to decide (a decline's refusalReasonCode is kept only
// as its label: the decision, declined for good, rests on the signed `success`). A notification's id
// is what Adyen deduplicates on, all signed: pspReference, eventCode and success.
//   AUTHORISATION          a 3-D Secure challenge's result (pspReference = the payment's); whether
//                          the PSP captured too is what the payment asked for (its capture mode)
//   REFUND / REFUND_FAILED an asynchronous refund's result (pspReference = the refund's own,
//                          originalReference = the payment's)
//   disputes               pspReference = the dispute's own (every event of one dispute shares it),
//                          originalReference = the disputed payment's, as Adyen sends them:
//     NOTIFICATION_OF_CHARGEBACK / CHARGEBACK          a dispute opened (value/currency: its amount)
//     CHARGEBACK_REVERSED / PREARBITRATION_WON         closed won
//     SECOND_CHARGEBACK / PREARBITRATION_LOST          closed lost
import { z } from "zod";
import { isCurrency } from "../payment/core/money.ts";
import type { NotificationRequest, ParsedNotifications, PspNotification } from "./contract.ts";
import { BOLT_REFUSALS, DeclineCode } from "./decline-codes.ts";
import { hmacSha256, parseJsonBody, refused, sameBytes, verified } from "./notification-signature.ts";

export const BOLT_ACK = "[accepted]";

const Str = z.string().max(256);
const Item = z.object({
  eventCode: z.string().min(1).max(64),
  success: z.enum(["true", "false"]),
  pspReference: z.string().min(1).max(256),
  originalReference: Str.optional(),
  merchantAccountCode: Str.optional(),
  merchantReference: z.string().min(1).max(256),
  amount: z.object({ value: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), currency: Str }),
  reason: z.string().max(512).optional(),
  eventDate: z.iso.datetime({ offset: true }),
  additionalData: z.record(z.string(), z.string().max(1024)).optional(),
});
type Item = z.infer<typeof Item>;
const Batch = z.object({
  live: z.enum(["true", "false"]),
  notificationItems: z
    .array(z.object({ NotificationRequestItem: z.unknown() }))
    .min(1)
    .max(100),
});

/** The string the HMAC is computed over, Adyen's way. Exported for the sandbox's tests only. */
export function boltSigningString(i: {
  pspReference?: string | undefined;
  originalReference?: string | undefined;
  merchantAccountCode?: string | undefined;
  merchantReference?: string | undefined;
  amount?: { value?: number | undefined; currency?: string | undefined } | undefined;
  eventCode?: string | undefined;
  success?: string | undefined;
}): string {
  return [
    i.pspReference ?? "",
    i.originalReference ?? "",
    i.merchantAccountCode ?? "",
    i.merchantReference ?? "",
    i.amount?.value ?? "",
    i.amount?.currency ?? "",
    i.eventCode ?? "",
    i.success ?? "",
  ].join(":");
}

function signedBy(key: Buffer, item: Item): boolean {
  const given = item.additionalData?.hmacSignature;
  if (!given || !/^[A-Za-z0-9+/]+={0,2}$/.test(given)) return false;
  return sameBytes(Buffer.from(given, "base64"), hmacSha256(key, boltSigningString(item)));
}

export function parseBoltNotification(
  req: NotificationRequest,
  opts: { hmacKeyHex: string | undefined },
): ParsedNotifications {
  // No key, no door: never a default one (config/env.ts).
  if (!opts.hmacKeyHex) return refused("not_configured");
  const batch = Batch.safeParse(parseJsonBody(req.body));
  if (!batch.success) return refused("malformed");
  const items: Item[] = [];
  for (const wrapped of batch.data.notificationItems) {
    const item = Item.safeParse(wrapped.NotificationRequestItem);
    if (!item.success) return refused("malformed");
    items.push(item.data);
  }
  const key = Buffer.from(opts.hmacKeyHex, "hex");
  // Every item is checked (no early exit on the first bad one): the batch stands or falls whole.
  const bad = items.filter((i) => !signedBy(key, i));
  if (bad.length > 0) return refused("bad_signature", bad[0]?.merchantReference);
  const notifications: PspNotification[] = [];
  for (const item of items) {
    const n = normalize(item);
    if (n === "malformed") return refused("malformed", item.merchantReference);
    if (n) notifications.push(n);
  }
  return verified(notifications, { status: 200, body: BOLT_ACK, contentType: "text/plain" });
}

function normalize(i: Item): PspNotification | undefined | "malformed" {
  const ok = i.success === "true";
  const base = {
    id: [i.pspReference, i.eventCode, i.success].join(":"),
    psp: "bolt",
    paymentReference: i.merchantReference,
    at: new Date(i.eventDate).toISOString(),
  };
  switch (i.eventCode) {
    case "AUTHORISATION": {
      const ids = { ...base, pspReference: i.pspReference, kind: "authorization" as const };
      // `captured` left out: additionalData.autoCapture is unsigned; the payment knows what it asked.
      if (ok) return { ...ids, outcome: "authorized" };
      const raw = i.additionalData?.refusalReasonCode ?? "Refused";
      const code =
        BOLT_REFUSALS[raw] ??
        (raw === "Refused" ? DeclineCode.cardDeclined : DeclineCode.unrecognizedDecline);
      return { ...ids, outcome: "declined", code, rawCode: raw };
    }
    case "REFUND":
    case "REFUND_FAILED": {
      if (!i.originalReference) return "malformed";
      const failed = i.eventCode === "REFUND_FAILED" || !ok;
      return {
        ...base,
        pspReference: i.originalReference,
        kind: "refund",
        operationReference: i.pspReference,
        outcome: failed ? "failed" : "succeeded",
        ...(failed ? { code: "refund_failed" } : {}),
      };
    }
    case "NOTIFICATION_OF_CHARGEBACK":
    case "CHARGEBACK":
    case "CHARGEBACK_REVERSED":
    case "PREARBITRATION_WON":
    case "SECOND_CHARGEBACK":
    case "PREARBITRATION_LOST": {
      if (!i.originalReference) return "malformed";
      // A dispute event that did not happen (success false) decides nothing.
      if (!ok) return undefined;
      const ids = { ...base, pspReference: i.originalReference, disputeId: i.pspReference };
      if (i.eventCode === "CHARGEBACK_REVERSED" || i.eventCode === "PREARBITRATION_WON")
        return { ...ids, kind: "dispute_closed", outcome: "won" };
      if (i.eventCode === "SECOND_CHARGEBACK" || i.eventCode === "PREARBITRATION_LOST")
        return { ...ids, kind: "dispute_closed", outcome: "lost" };
      if (!isCurrency(i.amount.currency)) return "malformed";
      return {
        ...ids,
        kind: "dispute_opened",
        amount: i.amount.value,
        currency: i.amount.currency,
        // A label only (unsigned): the reason the issuer gave.
        reason: i.reason ?? "",
      };
    }
    default:
      // Adyen sends many more event codes (CAPTURE, CANCELLATION, REPORT_AVAILABLE...): acknowledged,
      // not acted on (the direct answers already recorded them).
      return undefined;
  }
}
