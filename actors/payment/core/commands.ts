// Payment commands: what someone asks of a payment, imperative. The first four arrive from outside
// (gateway or internal systems over PAY_CMD, inside the envelope of wire.ts); the
// Record* commands are the actor feeding PSP outcomes back into the decider. Time and ids come in
// on the command: the decider has no clock and no randomness.
import { z } from "zod";
import type { RoutingDecision } from "../../policy/core/decision.ts";
import type { OutcomeClass } from "../../policy/core/schemas.ts";
import { Amount, At, Currency, Id } from "./contract.ts";
import { CaptureMode, CardFacts } from "./events.ts";
import { PspNotification } from "./notification.ts";

export const CreatePayment = z.object({
  type: z.literal("CreatePayment"),
  paymentId: Id,
  merchantId: Id,
  /** sha256 of the canonical request body: the same key with another body is rejected. */
  requestFingerprint: z.string(),
  amount: Amount,
  currency: Currency,
  capture: CaptureMode,
  card: CardFacts,
  reference: z.string().max(256).optional(),
  /** Where the PSP sends the shopper after a 3-D Secure challenge. */
  returnUrl: z.string().max(2048).optional(),
  metadata: z
    .record(z.string().min(1).max(40), z.string().max(500))
    .refine((m) => Object.keys(m).length <= 20, "metadata may have at most 20 keys")
    .optional(),
  at: At,
});
export type CreatePayment = z.infer<typeof CreatePayment>;

const FollowUp = {
  paymentId: Id,
  merchantId: Id,
  /** Derived from (payment, operation, Idempotency-Key). */
  operationId: Id,
  requestFingerprint: z.string(),
  at: At,
};

export const CapturePayment = z.object({
  type: z.literal("CapturePayment"),
  ...FollowUp,
  amount: Amount.optional(),
});
export type CapturePayment = z.infer<typeof CapturePayment>;

export const CancelPayment = z.object({ type: z.literal("CancelPayment"), ...FollowUp });
export type CancelPayment = z.infer<typeof CancelPayment>;

export const RefundPayment = z.object({
  type: z.literal("RefundPayment"),
  ...FollowUp,
  amount: Amount.optional(),
});
export type RefundPayment = z.infer<typeof RefundPayment>;

/** The commands anyone may send over PAY_CMD: the public contract. */
export const ExternalCommand = z.discriminatedUnion("type", [
  CreatePayment,
  CapturePayment,
  CancelPayment,
  RefundPayment,
]);
export type ExternalCommand = z.infer<typeof ExternalCommand>;

/**
 * Internal: settle whatever the payment has open (status query first), decide nothing new. The
 * janitor sends it for a payment left unresolved; anyone may, it is always safe.
 */
export const ResumePayment = z.object({
  type: z.literal("ResumePayment"),
  paymentId: Id,
  merchantId: Id,
  reason: z.string().max(200),
  at: At,
});
export type ResumePayment = z.infer<typeof ResumePayment>;

/**
 * Internal: a settlement report line matched one of this payment's captures or refunds (the settler
 * sends it after reconciliation, or an operator's resolution does). The line id makes it idempotent.
 */
export const RecordSettlement = z.object({
  type: z.literal("RecordSettlement"),
  paymentId: Id,
  merchantId: Id,
  kind: z.enum(["capture", "refund"]),
  psp: z.string().max(64),
  pspReference: z.string().max(256),
  /** The capture or refund operation's id (null: captured at authorization). */
  operation: z.string().max(128).nullable(),
  reportId: z.string().max(256),
  lineId: z.string().max(256),
  batch: z.string().max(256),
  payoutId: z.string().max(256).nullable(),
  currency: Currency,
  amount: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  fee: z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER),
  expectedFee: z.number().int().nullable(),
  net: z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER),
  settledAt: At,
  at: At,
});
export type RecordSettlement = z.infer<typeof RecordSettlement>;

/**
 * An operator records the outcome of an authorization the PSP left unknown, after confirming it with
 * the PSP out of band. Allowed only while an attempt is open (pending or unknown): the decider says so.
 */
export const ResolvePayment = z.object({
  type: z.literal("ResolvePayment"),
  paymentId: Id,
  merchantId: Id,
  outcome: z.enum(["authorized", "captured", "declined", "failed"]),
  pspReference: z.string().min(1).max(256).optional(),
  operator: z.string().min(1).max(64),
  reason: z.string().min(1).max(500),
  at: At,
});
export type ResolvePayment = z.infer<typeof ResolvePayment>;

/**
 * Internal: the shopper's challenge (3-D Secure) was left open longer than the platform allows (the
 * expiry sweep sends it). Expires a payment still in requires_action; anything else is unchanged.
 */
export const ExpirePayment = z.object({
  type: z.literal("ExpirePayment"),
  paymentId: Id,
  merchantId: Id,
  at: At,
});
export type ExpirePayment = z.infer<typeof ExpirePayment>;

/**
 * Internal: a PSP notification, verified by its connector at the gateway's door. The PSP knows our
 * payment id, not its merchant: the payment checks the PSP is its own. Idempotent: a notification
 * already applied decides nothing.
 */
export const RecordNotification = z.object({
  type: z.literal("RecordNotification"),
  paymentId: Id,
  /** Unknown at the door (the PSP names the payment only): absent there. */
  merchantId: Id.optional(),
  notification: PspNotification,
  at: At,
});
export type RecordNotification = z.infer<typeof RecordNotification>;

/** CreatePayment as the decider sees it: with the routing decision the actor edge made for it. */
export type CreateRoutedPayment = CreatePayment & { route: RoutingDecision };

/** Internal: what a PSP said about an authorization attempt (directly or through a status query). */
export type RecordAuthorizationResult = {
  type: "RecordAuthorizationResult";
  attemptNo: number;
  result:
    | { outcome: "authorized"; pspReference: string; captured: boolean }
    | { outcome: "requires_action"; pspReference: string; actionUrl: string }
    | { outcome: "declined"; code: string; soft: boolean; rawCode: string; class?: OutcomeClass }
    | { outcome: "technical_error"; code: string; class?: OutcomeClass }
    | { outcome: "unknown"; code: string };
  at: string;
};

/** Internal: what a PSP said about a capture, void or refund. */
export type RecordOperationResult = {
  type: "RecordOperationResult";
  operationId: string;
  result:
    | { outcome: "succeeded"; pspReference: string }
    | { outcome: "accepted"; pspReference: string }
    | { outcome: "failed"; code: string }
    | { outcome: "unknown"; code: string };
  at: string;
};

export type PaymentCommand =
  | CreateRoutedPayment
  | CapturePayment
  | CancelPayment
  | RefundPayment
  | RecordAuthorizationResult
  | RecordOperationResult
  | RecordSettlement
  | ResolvePayment
  | ExpirePayment
  | RecordNotification;
