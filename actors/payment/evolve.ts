// evolve(state, event) → state. Total and pure: it never throws and never looks at anything but its
// arguments, so replaying the same events always rebuilds the same payment.
import type { PaymentEvent } from "./events.ts";
import type { Attempt, Operation, Payment, PaymentState } from "./state.ts";
import { PaymentStatus } from "./state.ts";

export function evolve(state: PaymentState, event: PaymentEvent): PaymentState {
  if (event.type === "PaymentCreated") {
    if (state) return state;
    return {
      id: event.paymentId,
      merchantId: event.merchantId,
      status: PaymentStatus.created,
      requestFingerprint: event.requestFingerprint,
      amount: event.amount,
      currency: event.currency,
      capture: event.capture,
      capturedAmount: 0,
      refundedAmount: 0,
      card: event.card,
      ...(event.reference !== undefined && { reference: event.reference }),
      ...(event.metadata !== undefined && { metadata: event.metadata }),
      ...(event.returnUrl !== undefined && { returnUrl: event.returnUrl }),
      candidates: [],
      attempts: [],
      operations: [],
      createdAt: event.at,
      updatedAt: event.at,
    };
  }
  if (!state) return state;
  const p: Payment = { ...state, updatedAt: event.at };
  switch (event.type) {
    case "PaymentRouted":
      return {
        ...p,
        candidates: event.decision?.order ?? event.candidates ?? [],
        routingStrategy: event.decision?.strategy ?? event.strategy ?? "unknown",
        ...(event.decision && { routing: event.decision, retry: event.decision.retry }),
      };
    case "AuthorizationRequested":
      return {
        ...p,
        status: PaymentStatus.authorizing,
        psp: event.psp,
        attempts: [
          ...p.attempts,
          {
            no: event.attemptNo,
            psp: event.psp,
            idempotencyKey: event.idempotencyKey,
            status: "pending",
            ...(event.expectedFee !== undefined && { expectedFee: event.expectedFee }),
            ...(event.trigger !== undefined && { trigger: event.trigger }),
            ...(event.notBefore !== undefined && { notBefore: event.notBefore }),
            ...(event.threeDs === true && { threeDs: true as const }),
            requestedAt: event.at,
          },
        ],
      };
    case "PaymentAuthorized":
      return {
        ...withAttempt(p, event.attemptNo, {
          status: "authorized",
          pspReference: event.pspReference,
          completedAt: event.at,
        }),
        status: event.captured ? PaymentStatus.captured : PaymentStatus.authorized,
        capturedAmount: event.captured ? p.amount : 0,
        pspReference: event.pspReference,
      };
    case "PaymentDeclined":
      return {
        ...withAttempt(p, event.attemptNo, {
          status: "declined",
          code: event.code,
          ...(event.class !== undefined && { class: event.class }),
          completedAt: event.at,
        }),
        status: PaymentStatus.declined,
        declineCode: event.code,
      };
    case "AttemptDeclined":
      return withAttempt(p, event.attemptNo, {
        status: "declined",
        code: event.code,
        class: event.class,
        completedAt: event.at,
      });
    case "PaymentRequiresAction":
      return {
        ...withAttempt(p, event.attemptNo, {
          status: "requires_action",
          pspReference: event.pspReference,
          completedAt: event.at,
        }),
        status: PaymentStatus.requiresAction,
        pspReference: event.pspReference,
        actionUrl: event.actionUrl,
      };
    case "AuthorizationFailed":
      return withAttempt(p, event.attemptNo, {
        status: "failed",
        code: event.code,
        ...(event.class !== undefined && { class: event.class }),
        completedAt: event.at,
      });
    case "AuthorizationOutcomeUnknown":
      return withAttempt(p, event.attemptNo, { status: "unknown", code: event.code });
    case "PaymentFailed":
      return { ...p, status: PaymentStatus.failed, failureCode: event.code };
    case "OperationRequested":
      return {
        ...p,
        status: event.kind === "capture" ? PaymentStatus.capturing : p.status,
        operations: [
          ...p.operations,
          {
            id: event.operationId,
            kind: event.kind,
            requestFingerprint: event.requestFingerprint,
            amount: event.amount,
            idempotencyKey: event.idempotencyKey,
            status: "pending",
            requestedAt: event.at,
          },
        ],
      };
    case "OperationSucceeded": {
      const op = p.operations.find((o) => o.id === event.operationId);
      if (!op) return p;
      const next = withOperation(p, op.id, {
        status: "succeeded",
        pspReference: event.pspReference,
        completedAt: event.at,
      });
      if (op.kind === "capture")
        return { ...next, status: PaymentStatus.captured, capturedAmount: op.amount };
      // The void of an expiry leaves the payment expired: it ended there, not at the merchant's cancel.
      if (op.kind === "void")
        return p.status === PaymentStatus.expired ? next : { ...next, status: PaymentStatus.canceled };
      const refundedAmount = p.refundedAmount + op.amount;
      return {
        ...next,
        refundedAmount,
        status: refundedAmount >= p.capturedAmount ? PaymentStatus.refunded : PaymentStatus.partiallyRefunded,
      };
    }
    case "OperationFailed": {
      const op = p.operations.find((o) => o.id === event.operationId);
      if (!op) return p;
      const next = withOperation(p, op.id, { status: "failed", code: event.code, completedAt: event.at });
      // A refused capture leaves the authorization as it was.
      return op.kind === "capture" ? { ...next, status: PaymentStatus.authorized } : next;
    }
    case "OperationOutcomeUnknown":
      return withOperation(p, event.operationId, { status: "unknown", code: event.code });
    case "OperationAccepted":
      return withOperation(p, event.operationId, { status: "accepted", pspReference: event.pspReference });
    case "PaymentExpired":
      return {
        ...withAttempt(p, event.attemptNo, { status: "expired", completedAt: event.at }),
        status: PaymentStatus.expired,
      };
    case "DisputeOpened": {
      const { type: _t, disputeId, at, ...rest } = event;
      const dispute = { id: disputeId, ...rest, status: "open" as const, openedAt: at };
      return { ...p, disputes: [...(p.disputes ?? []), dispute] };
    }
    case "DisputeClosed":
      return {
        ...p,
        disputes: (p.disputes ?? []).map((d) =>
          d.id === event.disputeId ? { ...d, status: event.outcome, closedAt: event.at } : d,
        ),
      };
    case "CaptureSettled":
    case "RefundSettled": {
      const { type, at: _at, currency: _c, ...rest } = event;
      const settlement = { kind: type === "CaptureSettled" ? "capture" : "refund", ...rest } as const;
      return { ...p, settlements: [...(p.settlements ?? []), settlement] };
    }
    default: {
      const never: never = event;
      return never;
    }
  }
}

export function evolveAll(state: PaymentState, events: readonly PaymentEvent[]): PaymentState {
  return events.reduce(evolve, state);
}

function withAttempt(p: Payment, no: number, patch: Partial<Attempt>): Payment {
  return { ...p, attempts: p.attempts.map((a) => (a.no === no ? { ...a, ...patch } : a)) };
}

function withOperation(p: Payment, id: string, patch: Partial<Operation>): Payment {
  return { ...p, operations: p.operations.map((o) => (o.id === id ? { ...o, ...patch } : o)) };
}
