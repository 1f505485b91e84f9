// Payment events: what happened to a payment, past tense. Every schema here is part of the audit
// trail in PAY_EVT, so a field is only ever added as optional; a breaking change is a new version.
import { z } from "zod";
import { RoutingDecision } from "../../policy/core/decision.ts";
import { OutcomeClass } from "../../policy/core/schemas.ts";
import { Amount, At, Currency } from "./contract.ts";

export const CardFacts = z.object({
  brand: z.string(),
  last4: z.string().regex(/^\d{4}$/),
  binCountry: z.string().nullable(),
  fingerprint: z.string(),
  expMonth: z.number().int().min(1).max(12),
  expYear: z.number().int(),
});
export type CardFacts = z.infer<typeof CardFacts>;

export const CaptureMode = z.enum(["automatic", "manual"]);
export type CaptureMode = z.infer<typeof CaptureMode>;

export const PaymentCreated = z.object({
  type: z.literal("PaymentCreated"),
  paymentId: z.string(),
  merchantId: z.string(),
  requestFingerprint: z.string(),
  amount: Amount,
  currency: Currency,
  capture: CaptureMode,
  card: CardFacts,
  reference: z.string().optional(),
  metadata: z.record(z.string(), z.string()).optional(),
  /** Where the PSP sends the shopper after a challenge (absent on payments created without one). */
  returnUrl: z.string().optional(),
  at: At,
});
export type PaymentCreated = z.infer<typeof PaymentCreated>;

/**
 * The routing decision, recorded so that a replay never routes again: `candidates` are the PSPs to
 * try in order; `decision` (absent on events written before policies existed) says which policy
 * versions and rule chose them, every PSP considered with its score, and the retry terms the payment
 * keeps for life.
 */
export const PaymentRouted = z
  .object({
    type: z.literal("PaymentRouted"),
    /** Only on events written before decisions were recorded; since, `decision.strategy`. */
    strategy: z.string().optional(),
    /** Only on events written before decisions were recorded; since, `decision.order`. */
    candidates: z.array(z.string()).optional(),
    decision: RoutingDecision.optional(),
    at: At,
  })
  .refine((e) => e.decision !== undefined || (e.strategy !== undefined && e.candidates !== undefined), {
    message: "a PaymentRouted event carries its decision (or, before decisions, strategy and candidates)",
  });
export type PaymentRouted = z.infer<typeof PaymentRouted>;

/** The intent of a PSP authorization, recorded before the call is made. */
export const AuthorizationRequested = z.object({
  type: z.literal("AuthorizationRequested"),
  attemptNo: z.number().int().positive(),
  psp: z.string(),
  idempotencyKey: z.string(),
  /** What this PSP is expected to charge for the payment (fee policy), in minor units; null: not priced. */
  expectedFee: z.number().int().nonnegative().nullable().optional(),
  /** Why this attempt: the routed first choice, a retry on the same PSP, or a cascade to the next. */
  trigger: z.enum(["routed", "retry", "cascade"]).optional(),
  /** Backoff after a technical error: the call is not made before this time. */
  notBefore: At.optional(),
  /** A 3-D Secure step-up after an `auth_required` decline: the PSP is asked to authenticate the shopper. */
  threeDs: z.literal(true).optional(),
  at: At,
});
export type AuthorizationRequested = z.infer<typeof AuthorizationRequested>;

/** An outcome an operator recorded (confirmed with the PSP), instead of the PSP's own answer. */
export const ResolvedBy = z.object({ operator: z.string(), reason: z.string() });

export const PaymentAuthorized = z.object({
  type: z.literal("PaymentAuthorized"),
  attemptNo: z.number().int().positive(),
  pspReference: z.string(),
  captured: z.boolean(),
  resolvedBy: ResolvedBy.optional(),
  /** The PSP notification that brought this outcome (3-D Secure completed), when one did. */
  notificationId: z.string().optional(),
  at: At,
});
export type PaymentAuthorized = z.infer<typeof PaymentAuthorized>;

export const PaymentDeclined = z.object({
  type: z.literal("PaymentDeclined"),
  attemptNo: z.number().int().positive(),
  code: z.string(),
  soft: z.boolean(),
  rawCode: z.string(),
  class: OutcomeClass.optional(),
  resolvedBy: ResolvedBy.optional(),
  /** The PSP notification that brought this outcome (3-D Secure failed), when one did. */
  notificationId: z.string().optional(),
  at: At,
});
export type PaymentDeclined = z.infer<typeof PaymentDeclined>;

/** One attempt declined, and the payment cascades to its next PSP (a soft decline the retry terms allow). */
export const AttemptDeclined = z.object({
  type: z.literal("AttemptDeclined"),
  attemptNo: z.number().int().positive(),
  code: z.string(),
  rawCode: z.string(),
  class: OutcomeClass,
  at: At,
});
export type AttemptDeclined = z.infer<typeof AttemptDeclined>;

export const PaymentRequiresAction = z.object({
  type: z.literal("PaymentRequiresAction"),
  attemptNo: z.number().int().positive(),
  pspReference: z.string(),
  actionUrl: z.string(),
  at: At,
});
export type PaymentRequiresAction = z.infer<typeof PaymentRequiresAction>;

/** The PSP certainly did not take the request (technical error before acceptance). */
export const AuthorizationFailed = z.object({
  type: z.literal("AuthorizationFailed"),
  attemptNo: z.number().int().positive(),
  code: z.string(),
  class: OutcomeClass.optional(),
  at: At,
});
export type AuthorizationFailed = z.infer<typeof AuthorizationFailed>;

/** The PSP may have taken the request: only a status query to the same PSP may resolve it. */
export const AuthorizationOutcomeUnknown = z.object({
  type: z.literal("AuthorizationOutcomeUnknown"),
  attemptNo: z.number().int().positive(),
  code: z.string(),
  at: At,
});
export type AuthorizationOutcomeUnknown = z.infer<typeof AuthorizationOutcomeUnknown>;

export const PaymentFailed = z.object({
  type: z.literal("PaymentFailed"),
  code: z.string(),
  resolvedBy: ResolvedBy.optional(),
  at: At,
});
export type PaymentFailed = z.infer<typeof PaymentFailed>;

export const OperationKind = z.enum(["capture", "void", "refund"]);
export type OperationKind = z.infer<typeof OperationKind>;

/** The intent of a capture, void or refund, recorded before the PSP call. */
export const OperationRequested = z.object({
  type: z.literal("OperationRequested"),
  operationId: z.string(),
  kind: OperationKind,
  requestFingerprint: z.string(),
  amount: z.number().int().nonnegative(),
  idempotencyKey: z.string(),
  at: At,
});
export type OperationRequested = z.infer<typeof OperationRequested>;

export const OperationSucceeded = z.object({
  type: z.literal("OperationSucceeded"),
  operationId: z.string(),
  pspReference: z.string(),
  at: At,
});
export type OperationSucceeded = z.infer<typeof OperationSucceeded>;

export const OperationFailed = z.object({
  type: z.literal("OperationFailed"),
  operationId: z.string(),
  code: z.string(),
  at: At,
});
export type OperationFailed = z.infer<typeof OperationFailed>;

export const OperationOutcomeUnknown = z.object({
  type: z.literal("OperationOutcomeUnknown"),
  operationId: z.string(),
  code: z.string(),
  at: At,
});
export type OperationOutcomeUnknown = z.infer<typeof OperationOutcomeUnknown>;

/**
 * A PSP's settlement report says an operation of this payment was paid out: which line of which
 * report, the batch and payout, the fee the PSP really charged (beside the fee expected at routing)
 * and the net. One per settled operation: the line id makes a replayed settlement a no-op.
 */
const SettledFields = {
  psp: z.string(),
  /** The operation's PSP reference the line matched. */
  pspReference: z.string(),
  /** The capture or refund operation, when it was a separate operation (null: captured at authorization). */
  operationId: z.string().nullable(),
  reportId: z.string(),
  lineId: z.string(),
  batch: z.string(),
  payoutId: z.string().nullable(),
  currency: Currency,
  amount: z.number().int().nonnegative(),
  fee: z.number().int(),
  /** What the fee policy expected for this operation (null: not priced). */
  expectedFee: z.number().int().nullable(),
  net: z.number().int(),
  settledAt: At,
  at: At,
};
export const CaptureSettled = z.object({ type: z.literal("CaptureSettled"), ...SettledFields });
export type CaptureSettled = z.infer<typeof CaptureSettled>;
export const RefundSettled = z.object({ type: z.literal("RefundSettled"), ...SettledFields });
export type RefundSettled = z.infer<typeof RefundSettled>;

/**
 * The shopper never completed the PSP's challenge (3-D Secure) in time: the payment ends here. It is
 * recorded with a void of the authorization the PSP holds, so no charge is left behind.
 */
export const PaymentExpired = z.object({
  type: z.literal("PaymentExpired"),
  attemptNo: z.number().int().positive(),
  at: At,
});
export type PaymentExpired = z.infer<typeof PaymentExpired>;

/**
 * The PSP took a refund it completes later (asynchronously): nothing is left for the actor to call;
 * the PSP's notification brings the final answer (OperationSucceeded / OperationFailed).
 */
export const OperationAccepted = z.object({
  type: z.literal("OperationAccepted"),
  operationId: z.string(),
  pspReference: z.string(),
  at: At,
});
export type OperationAccepted = z.infer<typeof OperationAccepted>;

/** The PSP notified a chargeback on this payment: the amount is held back until the dispute closes. */
export const DisputeOpened = z.object({
  type: z.literal("DisputeOpened"),
  disputeId: z.string(),
  psp: z.string(),
  amount: z.number().int().nonnegative(),
  currency: Currency,
  reason: z.string(),
  at: At,
});
export type DisputeOpened = z.infer<typeof DisputeOpened>;

/** The dispute ended: won (the money comes back to the merchant) or lost (it stays with the shopper). */
export const DisputeClosed = z.object({
  type: z.literal("DisputeClosed"),
  disputeId: z.string(),
  outcome: z.enum(["won", "lost"]),
  at: At,
});
export type DisputeClosed = z.infer<typeof DisputeClosed>;

export const PaymentEvent = z.discriminatedUnion("type", [
  PaymentCreated,
  PaymentRouted,
  AuthorizationRequested,
  PaymentAuthorized,
  PaymentDeclined,
  AttemptDeclined,
  PaymentRequiresAction,
  AuthorizationFailed,
  AuthorizationOutcomeUnknown,
  PaymentFailed,
  OperationRequested,
  OperationSucceeded,
  OperationFailed,
  OperationOutcomeUnknown,
  CaptureSettled,
  RefundSettled,
  PaymentExpired,
  OperationAccepted,
  DisputeOpened,
  DisputeClosed,
]);
export type PaymentEvent = z.infer<typeof PaymentEvent>;
export type PaymentEventType = PaymentEvent["type"];
