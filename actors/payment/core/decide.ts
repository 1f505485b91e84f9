// decide(state, command) → events | rejection. Pure: the whole state machine of a payment, with
// idempotency in the entity (a repeated request decides no events; the same key with another body
// is rejected). No I/O, no clock: time arrives on the command.
import type {
  CancelPayment,
  CapturePayment,
  CreateRoutedPayment,
  PaymentCommand,
  RecordAuthorizationResult,
  RecordOperationResult,
  RefundPayment,
} from "./commands.ts";
import { expectedFeeOf, type RetryTerms } from "../../policy/core/decision.ts";
import { backoffMs } from "../../policy/core/retry.ts";
import type { OutcomeClass } from "../../policy/core/schemas.ts";
import { accept, reject, RejectionCode, type Decision } from "./decision.ts";
import { recordSettlement, resolveByOperator } from "./decide-after.ts";
import { expire, heldByMerchant, notified } from "./decide-notified.ts";
import { attemptKey, operationKey } from "./ids.ts";
import type { AuthorizationRequested, OperationKind, PaymentEvent } from "./events.ts";
import type { Attempt, Payment, PaymentState } from "./state.ts";
import { isOpen, PaymentStatus } from "./state.ts";

export { RejectionCode, type Decision, type Rejection } from "./decision.ts";

export { attemptKey, operationKey } from "./ids.ts";

export function decide(state: PaymentState, command: PaymentCommand): Decision {
  switch (command.type) {
    case "CreatePayment":
      return create(state, command);
    case "CapturePayment":
    case "CancelPayment":
    case "RefundPayment":
      return followUp(state, command);
    case "RecordAuthorizationResult":
      return state ? recordAuthorization(state, command) : accept();
    case "RecordOperationResult":
      return state ? recordOperation(state, command) : accept();
    case "ResolvePayment":
      return state
        ? resolveByOperator(state, command)
        : reject(RejectionCode.paymentNotFound, `no payment ${command.paymentId}`);
    case "RecordSettlement":
      return state
        ? recordSettlement(state, command)
        : reject(RejectionCode.paymentNotFound, `no payment ${command.paymentId}`);
    case "ExpirePayment":
      return state ? expire(state, command) : accept();
    case "RecordNotification": {
      if (!state) return reject(RejectionCode.paymentNotFound, `no payment ${command.paymentId}`);
      const next = notified(state, command);
      if ("ok" in next) return next;
      const decision = decide(state, next);
      // The outcome says which notification brought it.
      if (!decision.ok) return decision;
      const id = command.notification.id;
      return accept(
        ...decision.events.map((e) =>
          e.type === "PaymentAuthorized" || e.type === "PaymentDeclined" ? { ...e, notificationId: id } : e,
        ),
      );
    }
    default: {
      const never: never = command;
      return never;
    }
  }
}

function create(state: PaymentState, c: CreateRoutedPayment): Decision {
  if (state) {
    if (state.requestFingerprint !== c.requestFingerprint)
      return reject(
        RejectionCode.idempotencyKeyReused,
        "this Idempotency-Key was already used with a different request body",
      );
    return accept(); // the same request again: its first result stands
  }
  const created: PaymentEvent = {
    type: "PaymentCreated",
    paymentId: c.paymentId,
    merchantId: c.merchantId,
    requestFingerprint: c.requestFingerprint,
    amount: c.amount,
    currency: c.currency,
    capture: c.capture,
    card: c.card,
    ...(c.reference !== undefined && { reference: c.reference }),
    ...(c.metadata !== undefined && { metadata: c.metadata }),
    ...(c.returnUrl !== undefined && { returnUrl: c.returnUrl }),
    at: c.at,
  };
  const d = c.route;
  // The decision once: its order is the candidate list, its strategy the strategy.
  const routed: PaymentEvent = { type: "PaymentRouted", decision: d, at: c.at };
  const first = d.order[0];
  if (first === undefined)
    return accept(created, routed, { type: "PaymentFailed", code: "no_route", at: c.at });
  return accept(created, routed, {
    type: "AuthorizationRequested",
    attemptNo: 1,
    psp: first,
    idempotencyKey: attemptKey(c.paymentId, 1),
    expectedFee: expectedFeeOf(d, first),
    trigger: "routed",
    at: c.at,
  });
}

type FollowUpCommand = CapturePayment | CancelPayment | RefundPayment;

const KIND: Record<FollowUpCommand["type"], OperationKind> = {
  CapturePayment: "capture",
  CancelPayment: "void",
  RefundPayment: "refund",
};

function followUp(state: PaymentState, c: FollowUpCommand): Decision {
  if (!state || state.merchantId !== c.merchantId)
    return reject(RejectionCode.paymentNotFound, `no payment ${c.paymentId}`);
  const seen = state.operations.find((o) => o.id === c.operationId);
  if (seen) {
    if (seen.requestFingerprint !== c.requestFingerprint)
      return reject(
        RejectionCode.idempotencyKeyReused,
        "this Idempotency-Key was already used with a different request body",
      );
    return accept();
  }
  if (state.operations.some(isOpen))
    return reject(RejectionCode.operationInProgress, "another operation on this payment is in progress");
  const kind = KIND[c.type];
  const amount = amountFor(state, c);
  if (typeof amount !== "number") return amount;
  return accept({
    type: "OperationRequested",
    operationId: c.operationId,
    kind,
    requestFingerprint: c.requestFingerprint,
    amount,
    idempotencyKey: operationKey(state.id, c.operationId),
    at: c.at,
  });
}

/** The amount the operation moves, or the rejection when the payment's state does not allow it. */
function amountFor(p: Payment, c: FollowUpCommand): number | Decision {
  const illegal = (what: string) =>
    reject(RejectionCode.invalidStateTransition, `cannot ${what} a payment in status ${p.status}`, {
      status: p.status,
    });
  switch (c.type) {
    case "CapturePayment": {
      if (p.status !== PaymentStatus.authorized) return illegal("capture");
      const amount = c.amount ?? p.amount;
      if (amount > p.amount)
        return reject(
          RejectionCode.amountTooLarge,
          `capture amount ${amount} exceeds authorized ${p.amount}`,
          {
            authorized: p.amount,
          },
        );
      return amount;
    }
    case "CancelPayment":
      if (p.status !== PaymentStatus.authorized && p.status !== PaymentStatus.requiresAction)
        return illegal("cancel");
      return 0;
    case "RefundPayment": {
      if (p.status !== PaymentStatus.captured && p.status !== PaymentStatus.partiallyRefunded)
        return illegal("refund");
      // Money a dispute holds or took is not the merchant's to refund: the shopper would get it twice.
      const refundable = heldByMerchant(p);
      const amount = c.amount ?? refundable;
      if (amount > refundable || amount === 0)
        return reject(
          RejectionCode.amountTooLarge,
          `refund amount ${amount} exceeds refundable ${refundable}`,
          {
            refundable,
          },
        );
      return amount;
    }
    default: {
      const never: never = c;
      return never;
    }
  }
}

function recordAuthorization(p: Payment, c: RecordAuthorizationResult): Decision {
  const attempt = p.attempts.find((a) => a.no === c.attemptNo);
  if (!attempt) return accept();
  const { attemptNo, at } = c;
  const r = c.result;
  // Only an open attempt takes a result: a late or repeated answer changes nothing. An attempt
  // waiting on the shopper's challenge takes its final answer (the PSP's notification).
  const open = isOpen(attempt);
  // Not once the payment moved on (canceled, expired) or while a void of it is under way.
  const challenged =
    attempt.status === "requires_action" &&
    p.status === PaymentStatus.requiresAction &&
    !p.operations.some(isOpen) &&
    (r.outcome === "authorized" || r.outcome === "declined");
  if (!open && !challenged) return accept();
  switch (r.outcome) {
    case "authorized":
      return accept({
        type: "PaymentAuthorized",
        attemptNo,
        pspReference: r.pspReference,
        captured: r.captured,
        at,
      });
    case "requires_action":
      return accept({
        type: "PaymentRequiresAction",
        attemptNo,
        pspReference: r.pspReference,
        actionUrl: r.actionUrl,
        at,
      });
    case "declined": {
      const cls: OutcomeClass = r.class ?? (r.soft ? "soft_decline" : "hard_decline");
      const next =
        cls === "soft_decline"
          ? nextAttempt(p, attempt, cls, r.code, at)
          : cls === "auth_required" && open
            ? stepUp(p, attempt, at)
            : undefined;
      if (next)
        return accept(
          { type: "AttemptDeclined", attemptNo, code: r.code, rawCode: r.rawCode, class: cls, at },
          next,
        );
      return accept({
        type: "PaymentDeclined",
        attemptNo,
        code: r.code,
        soft: r.soft,
        rawCode: r.rawCode,
        class: cls,
        at,
      });
    }
    case "unknown":
      return attempt.status === "unknown"
        ? accept()
        : accept({ type: "AuthorizationOutcomeUnknown", attemptNo, code: r.code, at });
    case "technical_error": {
      // Safe to retry or fail over only because the PSP certainly did not take the request.
      if (attempt.status === "unknown") return accept(); // a charge may exist: never move on
      const cls: OutcomeClass = r.class ?? "technical";
      const failed: PaymentEvent = { type: "AuthorizationFailed", attemptNo, code: r.code, class: cls, at };
      const next = nextAttempt(p, attempt, "technical", r.code, at);
      if (!next) return accept(failed, { type: "PaymentFailed", code: "psp_unavailable", at });
      return accept(failed, next);
    }
    default: {
      const never: never = r;
      return never;
    }
  }
}

/** Terms for payments routed before retry policies existed: fail over on technical errors only. */
function termsOf(p: Payment): RetryTerms {
  return (
    p.retry ?? {
      cascadeOn: ["technical"],
      maxAttempts: Math.max(1, p.candidates.length),
      samePspRetries: 0,
      backoffInitialMs: 0,
      backoffMultiplier: 1,
      backoffMaxMs: 0,
    }
  );
}

/**
 * The attempt that follows a failed or declined one under the payment's retry terms, or undefined
 * when the payment must stop here. Only soft declines and technical errors (the PSP certainly did
 * not take the request) come here: a hard decline or an unknown outcome never moves a payment to
 * another PSP (an authentication request may, as a 3-D Secure step-up: stepUp below).
 */
function nextAttempt(
  p: Payment,
  failed: Attempt,
  cls: "soft_decline" | "technical",
  code: string,
  at: string,
): AuthorizationRequested | undefined {
  const terms = termsOf(p);
  if (p.attempts.length >= terms.maxAttempts) return undefined;
  const no = p.attempts.length + 1;
  const request = (psp: string, trigger: "retry" | "cascade", waitMs: number): AuthorizationRequested => ({
    type: "AuthorizationRequested",
    attemptNo: no,
    psp,
    idempotencyKey: attemptKey(p.id, no),
    expectedFee: expectedFeeOf(p.routing, psp),
    trigger,
    ...(waitMs > 0 && { notBefore: new Date(Date.parse(at) + waitMs).toISOString() }),
    at,
  });
  const cascadeTo = p.candidates[p.candidates.indexOf(failed.psp) + 1];
  if (cls === "soft_decline")
    return terms.cascadeOn.includes("soft_decline") && cascadeTo !== undefined
      ? request(cascadeTo, "cascade", 0)
      : undefined;
  // A refusal by our own circuit breaker sent nothing: no point retrying that PSP, no need to wait.
  const sent = code !== "circuit_open";
  // Calls our own breaker refused were never sent: they do not lengthen the backoff.
  const technicalSoFar =
    p.attempts.filter((a) => a.status === "failed" && a.code !== "circuit_open").length + 1;
  const wait = sent ? backoffMs(terms, technicalSoFar) : 0;
  let sameInARow = 0;
  for (let i = p.attempts.length - 1; i >= 0 && p.attempts[i]?.psp === failed.psp; i--) sameInARow++;
  if (sent && sameInARow - 1 < terms.samePspRetries) return request(failed.psp, "retry", wait);
  if (terms.cascadeOn.includes("technical") && cascadeTo !== undefined)
    return request(cascadeTo, "cascade", wait);
  return undefined;
}

/**
 * The 3-D Secure attempt that follows an `auth_required` decline, when the retry terms step up, or
 * undefined when the payment must be declined. Once per payment: a step-up that is itself declined
 * (or a challenge the shopper failed, which comes back as `auth_required` too) ends the payment.
 */
function stepUp(p: Payment, declined: Attempt, at: string): AuthorizationRequested | undefined {
  const terms = termsOf(p);
  if (terms.stepUp === undefined || p.attempts.some((a) => a.threeDs === true)) return undefined;
  if (p.attempts.length >= terms.maxAttempts) return undefined;
  const psp =
    terms.stepUp === "same_psp" ? declined.psp : p.candidates[p.candidates.indexOf(declined.psp) + 1];
  if (psp === undefined) return undefined;
  const no = p.attempts.length + 1;
  return {
    type: "AuthorizationRequested",
    attemptNo: no,
    psp,
    idempotencyKey: attemptKey(p.id, no),
    expectedFee: expectedFeeOf(p.routing, psp),
    trigger: psp === declined.psp ? "retry" : "cascade",
    threeDs: true,
    at,
  };
}

function recordOperation(p: Payment, c: RecordOperationResult): Decision {
  const op = p.operations.find((o) => o.id === c.operationId);
  // A final answer closes an open or accepted (asynchronous) operation; anything else is late.
  if (!op || (!isOpen(op) && op.status !== "accepted")) return accept();
  const { operationId, at } = c;
  const r = c.result;
  switch (r.outcome) {
    case "succeeded":
      return accept({ type: "OperationSucceeded", operationId, pspReference: r.pspReference, at });
    case "accepted":
      return op.status === "accepted"
        ? accept()
        : accept({ type: "OperationAccepted", operationId, pspReference: r.pspReference, at });
    case "failed":
      return accept({ type: "OperationFailed", operationId, code: r.code, at });
    case "unknown":
      return op.status === "unknown"
        ? accept()
        : accept({ type: "OperationOutcomeUnknown", operationId, code: r.code, at });
    default: {
      const never: never = r;
      return never;
    }
  }
}
