// From a validated HTTP request to the command envelope on PAY_CMD: deterministic ids, keyed
// fingerprints, card facts, the sealed card. Also the minimal view answered while a new payment's
// command waits in the queue. The PAN leaves this module only sealed or as an HMAC.
import { createHmac } from "node:crypto";
import { binCountryOf, brandOf, last4Of } from "../actors/payment/core/card.ts";
import type { CreatePayment } from "../actors/payment/core/commands.ts";
import type { CardFacts } from "../actors/payment/core/events.ts";
import { canonicalJson, operationIdFor, paymentIdFor } from "../actors/payment/core/ids.ts";
import type { PaymentView } from "../actors/payment/core/view.ts";
import { sealCard } from "../actors/payment/card-seal.ts";
import type { CommandEnvelope } from "../actors/payment/core/wire.ts";
import type { CreatePaymentBody } from "./schemas.ts";

/**
 * Keys derived from the card key, one per purpose. Both fingerprints must be keyed: a plain hash
 * of a body holding a PAN (16 digits, 6 known from the BIN, 1 from Luhn) is brute-forced in
 * minutes.
 */
export type FingerprintKeys = { request: Buffer; card: Buffer };

export function deriveFingerprintKeys(cardKey: Buffer): FingerprintKeys {
  return {
    request: createHmac("sha256", cardKey).update("switchyard/request-fingerprint/v1").digest(),
    card: createHmac("sha256", cardKey).update("switchyard/card-fingerprint/v1").digest(),
  };
}

/** Over the parsed body (defaults applied), so `capture` omitted and `"automatic"` are one request. */
export function requestFingerprint(keys: FingerprintKeys, body: unknown): string {
  return createHmac("sha256", keys.request).update(canonicalJson(body)).digest("hex");
}

type CardInput = CreatePaymentBody["payment_method"]["card"];

export function cardFactsOf(keys: FingerprintKeys, card: CardInput): CardFacts {
  return {
    brand: brandOf(card.number),
    last4: last4Of(card.number),
    binCountry: binCountryOf(card.number),
    fingerprint: createHmac("sha256", keys.card).update(card.number).digest("hex"),
    expMonth: card.exp_month,
    expYear: card.exp_year,
  };
}

export type RequestContext = {
  merchantId: string;
  idempotencyKey: string;
  keys: FingerprintKeys;
  at: string;
};

export function createPaymentEnvelope(
  ctx: RequestContext & { cardKey: Buffer },
  body: CreatePaymentBody,
): CommandEnvelope & { command: CreatePayment; sealedCard: string } {
  const paymentId = paymentIdFor(ctx.merchantId, ctx.idempotencyKey);
  const card = body.payment_method.card;
  const command: CreatePayment = {
    type: "CreatePayment",
    paymentId,
    merchantId: ctx.merchantId,
    requestFingerprint: requestFingerprint(ctx.keys, body),
    amount: body.amount,
    currency: body.currency,
    capture: body.capture,
    card: cardFactsOf(ctx.keys, card),
    ...(body.reference !== undefined && { reference: body.reference }),
    ...(body.metadata !== undefined && { metadata: body.metadata }),
    ...(body.payment_method.return_url !== undefined && { returnUrl: body.payment_method.return_url }),
    at: ctx.at,
  };
  const secret = { number: card.number, expMonth: card.exp_month, expYear: card.exp_year, cvc: card.cvc };
  return { v: 1, command, sealedCard: sealCard(ctx.cardKey, secret, paymentId) };
}

export const FollowUp = {
  capture: "CapturePayment",
  cancel: "CancelPayment",
  refund: "RefundPayment",
} as const;
export type FollowUp = keyof typeof FollowUp;

export function followUpEnvelope(
  ctx: RequestContext,
  paymentId: string,
  operation: FollowUp,
  body: { amount?: number | undefined },
): CommandEnvelope {
  const common = {
    paymentId,
    merchantId: ctx.merchantId,
    operationId: operationIdFor(paymentId, operation, ctx.idempotencyKey),
    requestFingerprint: requestFingerprint(ctx.keys, body),
    at: ctx.at,
  };
  const amount = body.amount !== undefined ? { amount: body.amount } : {};
  switch (operation) {
    case "capture":
      return { v: 1, command: { type: FollowUp.capture, ...common, ...amount } };
    case "refund":
      return { v: 1, command: { type: FollowUp.refund, ...common, ...amount } };
    case "cancel":
      return { v: 1, command: { type: FollowUp.cancel, ...common } };
    default: {
      const never: never = operation;
      return never;
    }
  }
}

/**
 * What a merchant sees of a payment whose command is stored but not yet handled by any actor:
 * status `created`, built from the command itself. The event store has the real state later.
 */
export function acceptedView(c: CreatePayment): PaymentView {
  return {
    id: c.paymentId,
    object: "payment",
    merchant_id: c.merchantId,
    status: "created",
    amount: c.amount,
    currency: c.currency,
    captured_amount: 0,
    refunded_amount: 0,
    settlements: [],
    disputes: [],
    capture: c.capture,
    psp: null,
    expected_fee: null,
    routing: null,
    attempts: [],
    operations: [],
    card: {
      brand: c.card.brand,
      last4: c.card.last4,
      bin_country: c.card.binCountry,
      exp_month: c.card.expMonth,
      exp_year: c.card.expYear,
    },
    next_action: null,
    decline_code: null,
    failure_code: null,
    reference: c.reference ?? null,
    metadata: c.metadata ?? {},
    created_at: c.at,
    updated_at: c.at,
  };
}
