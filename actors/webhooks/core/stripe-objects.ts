// A Switchyard payment as Stripe's API describes it: the payment intent, its charge and its refunds,
// the id mapping between them (reversible: `pi_X` is the payment `pay_X`, `ch_X` its charge,
// `re_X<op>` its refund operation `op_<op>`), Stripe's statuses and decline codes, and Stripe's
// event shape with its `Stripe-Signature`. Pure: the gateway's Stripe layer (gateway/stripe/) answers
// with these objects and the webhook sender sends these events, so both say the same thing.
import { createHmac } from "node:crypto";
import type { PaymentView } from "../../payment/core/view.ts";

/** The API version this layer speaks when the client names none (the SDK's pinned one, v23). */
export const STRIPE_API_VERSION = "2026-11-18.endive";

const HEX24 = /^[0-9a-f]{24}$/;

export const intentIdOf = (paymentId: string): string => `pi_${paymentId.slice(4)}`;
export const chargeIdOf = (paymentId: string): string => `ch_${paymentId.slice(4)}`;
/** The refund is an operation of the payment: both ids in one, so a refund id finds its payment. */
export const refundIdOf = (paymentId: string, operationId: string): string =>
  `re_${paymentId.slice(4)}${operationId.slice(3)}`;

/** The payment of a `pi_…` or `ch_…` id; undefined for anything else. */
export function paymentIdOf(id: string, prefix: "pi" | "ch"): string | undefined {
  if (!id.startsWith(`${prefix}_`)) return undefined;
  const hex = id.slice(3);
  return HEX24.test(hex) ? `pay_${hex}` : undefined;
}

export function refundIdParts(id: string): { paymentId: string; operationId: string } | undefined {
  const m = /^re_([0-9a-f]{24})([0-9a-f]{24})$/.exec(id);
  return m ? { paymentId: `pay_${m[1]}`, operationId: `op_${m[2]}` } : undefined;
}

export type StripeIntentStatus =
  | "requires_payment_method"
  | "requires_confirmation"
  | "requires_action"
  | "processing"
  | "requires_capture"
  | "succeeded"
  | "canceled";

/** Switchyard's payment status → Stripe's payment intent status (docs/stripe.md has the table). */
export function intentStatusOf(status: PaymentView["status"]): StripeIntentStatus {
  switch (status) {
    case "created":
    case "authorizing":
    case "capturing":
      return "processing";
    case "requires_action":
      return "requires_action";
    case "authorized":
      return "requires_capture";
    case "captured":
    case "partially_refunded":
    case "refunded":
      return "succeeded";
    case "declined":
    case "failed":
      return "requires_payment_method";
    case "canceled":
    case "expired":
      return "canceled";
    default: {
      const never: never = status;
      return never;
    }
  }
}

/** Our normalized decline code → Stripe's `code` and `decline_code` of a card error. */
export function stripeDeclineOf(code: string | null): { code: string; decline_code?: string } {
  switch (code) {
    case "expired_card":
      return { code: "expired_card", decline_code: "expired_card" };
    case "incorrect_cvc":
      return { code: "incorrect_cvc", decline_code: "incorrect_cvc" };
    case "invalid_card":
      return { code: "incorrect_number", decline_code: "incorrect_number" };
    case "processing_error":
      return { code: "processing_error", decline_code: "processing_error" };
    case "authentication_required":
      return { code: "authentication_required", decline_code: "authentication_required" };
    case null:
    default:
      return { code: "card_declined", decline_code: DECLINE_CODES[code ?? ""] ?? "generic_decline" };
  }
}

const DECLINE_CODES: Readonly<Record<string, string>> = {
  insufficient_funds: "insufficient_funds",
  do_not_honor: "do_not_honor",
  card_declined: "generic_decline",
  fraud_suspected: "fraudulent",
  stolen_or_lost_card: "stolen_card",
  restricted_card: "restricted_card",
  limit_exceeded: "card_velocity_exceeded",
  issuer_unavailable: "issuer_not_available",
  try_again_later: "try_again_later",
  unrecognized_decline: "generic_decline",
};

/** What the intent carries besides the payment: fields Switchyard's payment does not hold. */
export type IntentExtras = {
  description?: string | null;
  payment_method?: string | null;
  return_url?: string | null;
};

const unix = (iso: string): number => Math.floor(Date.parse(iso) / 1000);

export type StripeLastPaymentError = {
  type: "card_error";
  code: string;
  decline_code?: string;
  message: string;
  charge: string;
  payment_method: { id: string | null; object: "payment_method"; type: "card" };
};

/** Why the payment needs another payment method, in Stripe's words; null unless declined or failed. */
export function lastPaymentErrorOf(v: PaymentView, pm: string | null): StripeLastPaymentError | null {
  if (v.status !== "declined" && v.status !== "failed") return null;
  const d =
    v.status === "declined" ? stripeDeclineOf(v.decline_code) : { code: "processing_error" as string };
  return {
    type: "card_error",
    ...d,
    message:
      v.status === "declined"
        ? "Your card was declined."
        : "An error occurred while processing your card. Try again in a little bit.",
    charge: chargeIdOf(v.id),
    payment_method: { id: pm, object: "payment_method", type: "card" },
  };
}

export function paymentIntentOf(v: PaymentView, extras: IntentExtras = {}): Record<string, unknown> {
  const status = intentStatusOf(v.status);
  const pm = extras.payment_method ?? null;
  const capturable = v.status === "authorized" ? v.amount - v.captured_amount : 0;
  const canceled = v.status === "canceled" || v.status === "expired";
  return {
    id: intentIdOf(v.id),
    object: "payment_intent",
    amount: v.amount,
    amount_capturable: capturable,
    amount_received: v.captured_amount,
    capture_method: v.capture === "manual" ? "manual" : "automatic",
    canceled_at: canceled ? unix(v.updated_at) : null,
    cancellation_reason: canceled ? (v.status === "expired" ? "automatic" : "requested_by_customer") : null,
    client_secret: null,
    confirmation_method: "automatic",
    created: unix(v.created_at),
    currency: v.currency.toLowerCase(),
    description: extras.description ?? v.reference ?? null,
    last_payment_error: lastPaymentErrorOf(v, pm),
    latest_charge: v.attempts.length > 0 ? chargeIdOf(v.id) : null,
    livemode: false,
    metadata: v.metadata,
    next_action:
      status === "requires_action" && v.next_action
        ? {
            type: "redirect_to_url",
            redirect_to_url: { url: v.next_action.url, return_url: extras.return_url ?? null },
          }
        : null,
    payment_method: pm,
    payment_method_types: ["card"],
    status,
  };
}

/** The payment's charge: what its card authorization and captures were, and what was refunded. */
export function chargeOf(v: PaymentView, pm: string | null = null): Record<string, unknown> {
  const failed = v.status === "declined" || v.status === "failed";
  const pending = intentStatusOf(v.status) === "processing" || v.status === "requires_action";
  const decline = failed ? lastPaymentErrorOf(v, pm) : null;
  return {
    id: chargeIdOf(v.id),
    object: "charge",
    amount: v.amount,
    amount_captured: v.captured_amount,
    amount_refunded: v.refunded_amount,
    captured: v.captured_amount > 0,
    created: unix(v.created_at),
    currency: v.currency.toLowerCase(),
    failure_code: decline?.code ?? null,
    failure_message: decline?.message ?? null,
    livemode: false,
    metadata: v.metadata,
    paid: !failed && !pending,
    payment_intent: intentIdOf(v.id),
    payment_method: pm,
    payment_method_details: {
      type: "card",
      card: {
        brand: v.card.brand,
        country: v.card.bin_country,
        exp_month: v.card.exp_month,
        exp_year: v.card.exp_year,
        last4: v.card.last4,
      },
    },
    refunded: v.captured_amount > 0 && v.refunded_amount >= v.captured_amount,
    status: failed ? "failed" : pending ? "pending" : "succeeded",
  };
}

type Operation = PaymentView["operations"][number];

export function refundOf(v: PaymentView, op: Operation): Record<string, unknown> {
  return {
    id: refundIdOf(v.id, op.id),
    object: "refund",
    amount: op.amount,
    charge: chargeIdOf(v.id),
    created: unix(op.created_at),
    currency: v.currency.toLowerCase(),
    failure_reason: op.status === "failed" ? "unknown" : undefined,
    metadata: {},
    payment_intent: intentIdOf(v.id),
    reason: null,
    status: op.status === "succeeded" ? "succeeded" : op.status === "failed" ? "failed" : "pending",
  };
}

/** The payment's refunds, newest first (Stripe's list order). */
export function refundsOf(v: PaymentView): Operation[] {
  return v.operations.filter((o) => o.type === "refund").reverse();
}

/** Our merchant event types → Stripe's; types Stripe has no name for keep ours, under `switchyard.`. */
const EVENT_TYPES: Readonly<Record<string, string>> = {
  "payment.authorized": "payment_intent.amount_capturable_updated",
  "payment.captured": "payment_intent.succeeded",
  "payment.declined": "payment_intent.payment_failed",
  "payment.failed": "payment_intent.payment_failed",
  "payment.requires_action": "payment_intent.requires_action",
  "payment.canceled": "payment_intent.canceled",
  "payment.expired": "payment_intent.canceled",
  "refund.succeeded": "charge.refunded",
  "refund.failed": "charge.refund.updated",
  "payment.disputed": "charge.dispute.created",
  "dispute.closed": "charge.dispute.closed",
};

export const stripeEventTypeOf = (type: string): string => EVENT_TYPES[type] ?? `switchyard.${type}`;

/** The minimal shape of a stored merchant event this needs (actors/webhooks/core/catalog.ts). */
type MerchantEventLike = { id: string; type: string; created: string; data: { object: PaymentView } };

/**
 * A merchant event as Stripe sends it: `charge.*` events carry the charge, the rest the intent.
 * The id keeps ours (`evt_…`), so one event is one id in both formats.
 */
export function stripeEventOf(e: MerchantEventLike): Record<string, unknown> {
  const type = stripeEventTypeOf(e.type);
  const view = e.data.object;
  return {
    id: e.id.startsWith("evt_") ? e.id : `evt_${e.id}`,
    object: "event",
    api_version: STRIPE_API_VERSION,
    created: unix(e.created),
    data: { object: type.startsWith("charge.") ? chargeOf(view) : paymentIntentOf(view) },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  };
}

/**
 * Stripe's `Stripe-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with the
 * whole `whsec_…` string as the key (what `stripe.webhooks.constructEvent` checks), one `v1` per
 * secret while a rotation's grace period runs.
 */
export function stripeSignature(secrets: readonly string[], at: Date, body: string): string {
  const t = Math.floor(at.getTime() / 1000);
  const v1 = secrets.map((s) => `v1=${createHmac("sha256", s).update(`${t}.${body}`).digest("hex")}`);
  return [`t=${t}`, ...v1].join(",");
}
