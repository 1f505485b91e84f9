// The state of one payment, as rebuilt from its events by evolve(). Plain JSON, so it can be
// snapshotted to Redis as it is (with SCHEMA_VERSION, bumped whenever this shape changes).
import type { RetryTerms, RoutingDecision } from "../policy/decision.ts";
import type { OutcomeClass } from "../policy/schemas.ts";
import type { CaptureMode, CardFacts, OperationKind } from "./events.ts";

export const SCHEMA_VERSION = 2;

export const PaymentStatus = {
  created: "created",
  authorizing: "authorizing",
  authorized: "authorized",
  capturing: "capturing",
  captured: "captured",
  requiresAction: "requires_action",
  declined: "declined",
  failed: "failed",
  canceled: "canceled",
  partiallyRefunded: "partially_refunded",
  refunded: "refunded",
  expired: "expired",
} as const;
export type PaymentStatus = (typeof PaymentStatus)[keyof typeof PaymentStatus];

/** States in which nothing more happens to the payment. */
export const TERMINAL: ReadonlySet<PaymentStatus> = new Set([
  PaymentStatus.declined,
  PaymentStatus.failed,
  PaymentStatus.canceled,
  PaymentStatus.refunded,
  PaymentStatus.expired,
]);

/** States in which the gateway stops waiting and answers 201. */
export const RESTING: ReadonlySet<PaymentStatus> = new Set([
  PaymentStatus.authorized,
  PaymentStatus.captured,
  PaymentStatus.declined,
  PaymentStatus.failed,
  PaymentStatus.requiresAction,
  PaymentStatus.canceled,
  PaymentStatus.partiallyRefunded,
  PaymentStatus.refunded,
  PaymentStatus.expired,
]);

export type AttemptStatus =
  "pending" | "unknown" | "authorized" | "declined" | "requires_action" | "failed" | "expired";

export type Attempt = {
  no: number;
  psp: string;
  idempotencyKey: string;
  status: AttemptStatus;
  pspReference?: string;
  code?: string;
  /** How the PSP's answer was classified (decline-codes.ts), when it failed or declined. */
  class?: OutcomeClass;
  expectedFee?: number | null;
  trigger?: "routed" | "retry" | "cascade";
  notBefore?: string;
  /** A 3-D Secure step-up: the PSP was asked to authenticate the shopper. */
  threeDs?: true;
  requestedAt: string;
  completedAt?: string;
};

/** `accepted`: the PSP took it and answers later (an asynchronous refund): nothing to call meanwhile. */
export type OperationStatus = "pending" | "unknown" | "accepted" | "succeeded" | "failed";

export type Operation = {
  id: string;
  kind: OperationKind;
  requestFingerprint: string;
  amount: number;
  idempotencyKey: string;
  status: OperationStatus;
  pspReference?: string;
  code?: string;
  requestedAt: string;
  completedAt?: string;
};

/** One settled operation, as the PSP's report said it (CaptureSettled / RefundSettled). */
export type Settlement = {
  kind: "capture" | "refund";
  psp: string;
  pspReference: string;
  operationId: string | null;
  reportId: string;
  lineId: string;
  batch: string;
  payoutId: string | null;
  amount: number;
  fee: number;
  expectedFee: number | null;
  net: number;
  settledAt: string;
};

/** A chargeback the PSP notified, as the payment records it (DisputeOpened / DisputeClosed). */
export type Dispute = {
  id: string;
  psp: string;
  amount: number;
  currency: string;
  reason: string;
  status: "open" | "won" | "lost";
  openedAt: string;
  closedAt?: string;
};

export type Payment = {
  id: string;
  merchantId: string;
  status: PaymentStatus;
  requestFingerprint: string;
  amount: number;
  currency: string;
  capture: CaptureMode;
  capturedAmount: number;
  refundedAmount: number;
  card: CardFacts;
  reference?: string;
  metadata?: Record<string, string>;
  /** Where the PSP sends the shopper after a 3-D Secure challenge. */
  returnUrl?: string;
  /** PSPs in the order the routing decision allows them. */
  candidates: string[];
  routingStrategy?: string;
  /** The recorded routing decision (absent for payments routed before policies existed). */
  routing?: RoutingDecision;
  /** The retry terms copied from the retry policy at routing time; the payment keeps them for life. */
  retry?: RetryTerms;
  /** The PSP holding the authorization (the last attempt's PSP). */
  psp?: string;
  pspReference?: string;
  actionUrl?: string;
  attempts: Attempt[];
  operations: Operation[];
  /** Settled operations (absent until the first settlement; old snapshots have none). */
  settlements?: Settlement[];
  /** Chargebacks (absent until the first; old snapshots have none). */
  disputes?: Dispute[];
  declineCode?: string;
  failureCode?: string;
  createdAt: string;
  updatedAt: string;
};

/** No events yet: the payment does not exist. */
export type PaymentState = Payment | undefined;

export function initialState(): PaymentState {
  return undefined;
}
