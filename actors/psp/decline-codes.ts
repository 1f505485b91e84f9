// The one set of normalized outcome codes every adapter maps its PSP's wire codes onto, each with its
// class (OutcomeClass). The class is what the retry policy acts on; the code is what merchants and
// operators read. Pure data and pure functions.
//
// The classes, and why:
// - hard_decline: the issuer said no for a reason another attempt cannot change. Never retried nor
//   cascaded. `insufficient_funds` is here on purpose: cascading asks another acquirer, but the
//   authorization still goes to the same issuer for the same card and the same balance, so it would
//   only collect a second decline (and count against the card's attempt limits).
// - soft_decline: a generic or transient refusal (do not honor, issuer unavailable, try again): a
//   definite "not charged", so another PSP may be tried.
// - technical: the request certainly did not reach acceptance (PSP down, rate limited, connection
//   refused, our own circuit open): nothing was charged, safe to retry or cascade.
// - unknown: the request may have been accepted (timeout, reset, 5xx, unreadable answer): resolved
//   only by a status query to the same PSP for the same key, never by cascading.
// - auth_required: the issuer wants strong customer authentication (3-D Secure) first.
import type { OutcomeClass } from "../policy/core/schemas.ts";

export const HardDeclineCode = {
  expiredCard: "expired_card",
  incorrectCvc: "incorrect_cvc",
  invalidCard: "invalid_card",
  fraudSuspected: "fraud_suspected",
  stolenOrLostCard: "stolen_or_lost_card",
  insufficientFunds: "insufficient_funds",
  /** The card may not be used for this kind of transaction, currency or merchant. */
  restrictedCard: "restricted_card",
  /** An issuer-side amount or count limit: same issuer, same answer elsewhere. */
  limitExceeded: "limit_exceeded",
  /** A decline whose PSP code no table here names: hard, for the reason classify() gives. */
  unrecognizedDecline: "unrecognized_decline",
} as const;

export const SoftDeclineCode = {
  /** A generic decline with no finer reason given (acme's generic_decline, bolt's plain "Refused"). */
  cardDeclined: "card_declined",
  doNotHonor: "do_not_honor",
  issuerUnavailable: "issuer_unavailable",
  tryAgainLater: "try_again_later",
  processingError: "processing_error",
} as const;

export const AuthRequiredCode = { authenticationRequired: "authentication_required" } as const;

export const TechnicalCode = {
  pspUnavailable: "psp_unavailable",
  rateLimited: "rate_limited",
  connectionRefused: "connection_refused",
  /** Connect, name lookup or URL failures: nothing left this process. */
  connectionFailed: "connection_failed",
  /** Refused locally by the circuit breaker (actors/psp/guarded.ts): never sent. */
  circuitOpen: "circuit_open",
  /** The PSP (or the adapter, before sending) rejected the request as such: nothing was done. */
  notProcessed: "not_processed",
} as const;

export const UnknownCode = {
  timeout: "timeout",
  connectionReset: "connection_reset",
  /** An answer the adapter cannot read (not JSON, unexpected shape or status). */
  badResponse: "bad_response",
  serverError: "server_error",
  /** The idempotency key was first used for another request, which may have done anything. */
  idempotencyConflict: "idempotency_conflict",
} as const;

/** Normalized decline codes: the codes a `declined` result carries. */
export const DeclineCode = { ...HardDeclineCode, ...SoftDeclineCode, ...AuthRequiredCode } as const;
export type DeclineCode = (typeof DeclineCode)[keyof typeof DeclineCode];
export type TechnicalCode = (typeof TechnicalCode)[keyof typeof TechnicalCode];
export type UnknownCode = (typeof UnknownCode)[keyof typeof UnknownCode];
export type NormalizedCode = DeclineCode | TechnicalCode | UnknownCode;

const CLASS_OF: ReadonlyMap<string, OutcomeClass> = new Map<string, OutcomeClass>([
  ...Object.values(HardDeclineCode).map((c) => [c, "hard_decline"] as const),
  ...Object.values(SoftDeclineCode).map((c) => [c, "soft_decline"] as const),
  ...Object.values(AuthRequiredCode).map((c) => [c, "auth_required"] as const),
  ...Object.values(TechnicalCode).map((c) => [c, "technical"] as const),
  ...Object.values(UnknownCode).map((c) => [c, "unknown"] as const),
]);

export const isNormalizedCode = (code: string): code is NormalizedCode => CLASS_OF.has(code);

/**
 * The class of a normalized code. An unrecognised code is a `hard_decline`: a decline is a definite
 * answer, so cascading it could not charge twice, but an issuer reason we cannot name is not known to
 * be transient either; stopping is the answer that never surprises the cardholder with a second
 * authorization (and never hides a fraud or stolen-card reason behind a retry).
 */
export function classify(code: string): OutcomeClass {
  return CLASS_OF.get(code) ?? "hard_decline";
}

/** A decline's class: never technical or unknown, whatever code an adapter passed. */
export function declineClass(code: string): Extract<OutcomeClass, `${string}_decline` | "auth_required"> {
  const c = classify(code);
  return c === "soft_decline" || c === "auth_required" ? c : "hard_decline";
}

// ---------------------------------------------------------------------------------------------
// Wire codes of each PSP. Both tables are keyed by the PSP's own code; a code missing from a table
// becomes `unrecognized_decline` (hard), with the PSP's code kept as the result's rawCode.

/** acme (Stripe-like): `error.decline_code` (finer) or `error.code` / `failure_code`. */
export const ACME_DECLINES: Readonly<Record<string, DeclineCode>> = {
  generic_decline: "card_declined",
  card_declined: "card_declined",
  do_not_honor: "do_not_honor",
  call_issuer: "do_not_honor",
  no_action_taken: "do_not_honor",
  insufficient_funds: "insufficient_funds",
  expired_card: "expired_card",
  invalid_expiry_month: "expired_card",
  invalid_expiry_year: "expired_card",
  incorrect_cvc: "incorrect_cvc",
  invalid_cvc: "incorrect_cvc",
  incorrect_number: "invalid_card",
  invalid_number: "invalid_card",
  invalid_account: "invalid_card",
  new_account_information_available: "invalid_card",
  fraudulent: "fraud_suspected",
  merchant_blacklist: "fraud_suspected",
  security_violation: "fraud_suspected",
  stolen_card: "stolen_or_lost_card",
  lost_card: "stolen_or_lost_card",
  pickup_card: "stolen_or_lost_card",
  restricted_card: "restricted_card",
  card_not_supported: "restricted_card",
  currency_not_supported: "restricted_card",
  transaction_not_allowed: "restricted_card",
  not_permitted: "restricted_card",
  service_not_allowed: "restricted_card",
  revocation_of_authorization: "restricted_card",
  revocation_of_all_authorizations: "restricted_card",
  stop_payment_order: "restricted_card",
  card_velocity_exceeded: "limit_exceeded",
  withdrawal_count_limit_exceeded: "limit_exceeded",
  issuer_not_available: "issuer_unavailable",
  try_again_later: "try_again_later",
  reenter_transaction: "try_again_later",
  processing_error: "processing_error",
  authentication_required: "authentication_required",
  approve_with_id: "try_again_later",
};

/** bolt (Adyen-like): `refusalReasonCode`, ISO 8583 response codes plus bolt's own "2" (refused). */
export const BOLT_REFUSALS: Readonly<Record<string, DeclineCode>> = {
  "2": "card_declined",
  "05": "do_not_honor",
  "01": "do_not_honor",
  "02": "do_not_honor",
  "04": "stolen_or_lost_card",
  "07": "stolen_or_lost_card",
  "41": "stolen_or_lost_card",
  "43": "stolen_or_lost_card",
  "12": "restricted_card",
  "57": "restricted_card",
  "58": "restricted_card",
  "62": "restricted_card",
  "14": "invalid_card",
  "15": "invalid_card",
  "51": "insufficient_funds",
  "54": "expired_card",
  N7: "incorrect_cvc",
  "82": "incorrect_cvc",
  "59": "fraud_suspected",
  "63": "fraud_suspected",
  "61": "limit_exceeded",
  // Under PSD2 Mastercard answers 65 and Visa 1A when the issuer wants strong customer authentication.
  "65": "authentication_required",
  // Adyen's "3D Not Authenticated": the shopper failed the challenge.
  "11": "authentication_required",
  "1A": "authentication_required",
  "91": "issuer_unavailable",
  "19": "try_again_later",
  "96": "processing_error",
};
