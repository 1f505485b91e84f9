// The state of one payment, as rebuilt from its events by evolve(). Plain JSON, so it can be
// snapshotted to Redis as it is (with SCHEMA_VERSION, bumped whenever this shape changes).
import type { RetryTerms, RoutingDecision } from "../../policy/core/decision.ts";
import type { OutcomeClass } from "../../policy/core/schemas.ts";
import type { CaptureMode, CardFacts, OperationKind } from "./events.ts";

/**
 * Bumped whenever this shape changes; a snapshot of another version is ignored (rebuilt from the
 * events). 3: the payment a union by status — a challenge's URL no longer kept past the challenge.
 */
export const SCHEMA_VERSION = 3;

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

/** What every attempt has, whatever its status. */
type AttemptBase = {
  no: number;
  psp: string;
  idempotencyKey: string;
  expectedFee?: number | null;
  trigger?: "routed" | "retry" | "cascade";
  notBefore?: string;
  /** A 3-D Secure step-up: the PSP was asked to authenticate the shopper. */
  threeDs?: true;
  requestedAt: string;
  /** The PSP's code: why it declined or failed, or (kept after an answer came) why the outcome was unknown. */
  code?: string;
  /** How the PSP's answer was classified (decline-codes.ts), when it failed or declined. */
  class?: OutcomeClass;
  pspReference?: string;
};

/**
 * One authorization attempt, by status: an open one (`pending`: asked, no answer yet; `unknown`: no
 * answer that says what happened, so a charge may exist) has no completion; an answered one has
 * when, and what the answer needs (the PSP's reference for an authorization or a challenge, the
 * code for a decline or a failure).
 */
export type Attempt =
  | (AttemptBase & { status: "pending"; code?: never; pspReference?: never; completedAt?: never })
  | (AttemptBase & { status: "unknown"; code: string; completedAt?: never })
  | (AttemptBase & { status: "authorized" | "requires_action"; pspReference: string; completedAt: string })
  | (AttemptBase & { status: "declined" | "failed"; code: string; completedAt: string })
  | (AttemptBase & { status: "expired"; completedAt: string });

/** `accepted`: the PSP took it and answers later (an asynchronous refund): nothing to call meanwhile. */
export type OperationStatus = "pending" | "unknown" | "accepted" | "succeeded" | "failed";

type OperationBase = {
  id: string;
  kind: OperationKind;
  requestFingerprint: string;
  amount: number;
  idempotencyKey: string;
  /** The PSP's code: why it failed, or (kept after an answer came) why the outcome was unknown. */
  code?: string;
  pspReference?: string;
  requestedAt: string;
};

/** A capture, void or refund, by status: open ones have no completion, answered ones have when. */
export type Operation =
  | (OperationBase & { status: "pending"; code?: never; pspReference?: never; completedAt?: never })
  | (OperationBase & { status: "unknown"; code: string; completedAt?: never })
  | (OperationBase & { status: "accepted"; pspReference: string; completedAt?: never })
  | (OperationBase & { status: "succeeded"; pspReference: string; completedAt: string })
  | (OperationBase & { status: "failed"; code: string; completedAt: string });

/** An attempt or operation still owed an answer: asked and not answered, or answered "unknown". */
export type OpenAttempt = Extract<Attempt, { status: "pending" | "unknown" }>;
export type OpenOperation = Extract<Operation, { status: "pending" | "unknown" }>;

/** The statuses in which the payment holds an authorization: a PSP and the reference it gave. */
const HOLDING: ReadonlySet<PaymentStatus> = new Set([
  "authorized",
  "capturing",
  "captured",
  "partially_refunded",
  "refunded",
  "canceled",
  "requires_action",
  "expired",
]);

export type HoldingAuthorization = Extract<Payment, { pspReference: string }>;

/** Whether the payment holds an authorization (by its status: the union makes psp and reference required there). */
export function holdsAuthorization(p: Payment): p is HoldingAuthorization {
  return HOLDING.has(p.status);
}

/** The one test of "still open" (a PSP call owed), for attempts and operations alike. */
export function isOpen<T extends Attempt | Operation>(
  x: T,
): x is Extract<T, { status: "pending" | "unknown" }> {
  return x.status === "pending" || x.status === "unknown";
}

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

type DisputeBase = {
  id: string;
  psp: string;
  amount: number;
  currency: string;
  reason: string;
  openedAt: string;
};

/** A chargeback the PSP notified, as the payment records it (DisputeOpened / DisputeClosed). */
export type Dispute =
  | (DisputeBase & { status: "open"; closedAt?: never })
  | (DisputeBase & { status: "won" | "lost"; closedAt: string });

/** What every payment has, whatever its status. */
export type PaymentBase = {
  id: string;
  merchantId: string;
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
  attempts: Attempt[];
  operations: Operation[];
  /** Settled operations (absent until the first settlement; old snapshots have none). */
  settlements?: Settlement[];
  /** Chargebacks (absent until the first; old snapshots have none). */
  disputes?: Dispute[];
  createdAt: string;
  updatedAt: string;
};

/** Neither a decline code nor a failure code nor a challenge: what every other status says of them. */
type NoOutcomeCodes = { declineCode?: never; failureCode?: never; actionUrl?: never };

/**
 * A payment, by status, with the fields each status needs required and the ones it cannot have
 * excluded: nothing reaches an authorization without a PSP and its reference, a challenge without
 * its URL, a decline without its code, a failure without its code.
 */
export type Payment =
  /** Created (and perhaps routed): no PSP asked yet. */
  | (PaymentBase & NoOutcomeCodes & { status: "created"; psp?: never; pspReference?: never })
  /** A PSP asked to authorize (an earlier attempt may have left a reference). */
  | (PaymentBase & NoOutcomeCodes & { status: "authorizing"; psp: string })
  /** Authorized, or past it: a PSP holds the authorization under its reference. */
  | (PaymentBase &
      NoOutcomeCodes & {
        status: "authorized" | "capturing" | "captured" | "partially_refunded" | "refunded" | "canceled";
        psp: string;
        pspReference: string;
      })
  /** The shopper must authenticate at `actionUrl` (3-D Secure). */
  | (PaymentBase & {
      status: "requires_action";
      psp: string;
      pspReference: string;
      actionUrl: string;
      declineCode?: never;
      failureCode?: never;
    })
  /** The challenge was abandoned: the authorization it left is voided. */
  | (PaymentBase & NoOutcomeCodes & { status: "expired"; psp: string; pspReference: string })
  | (PaymentBase & { status: "declined"; declineCode: string; failureCode?: never; actionUrl?: never })
  | (PaymentBase & { status: "failed"; failureCode: string; declineCode?: never; actionUrl?: never });

/** No events yet: the payment does not exist. */
export type PaymentState = Payment | undefined;

export function initialState(): PaymentState {
  return undefined;
}
