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
  const at = event.at;
  switch (event.type) {
    case "PaymentRouted": {
      const decision = event.decision;
      const changes: Partial<Payment> = {
        updatedAt: at,
        candidates: decision?.order ?? event.candidates ?? [],
        routingStrategy: decision?.strategy ?? event.strategy ?? "unknown",
      };
      if (decision) {
        changes.routing = decision;
        changes.retry = decision.retry;
      }
      return changed(state, changes);
    }
    case "AuthorizationRequested": {
      // Built key by key (not with conditional spreads), in the order it always had: the optional
      // fields between status and requestedAt.
      const attempt = {
        no: event.attemptNo,
        psp: event.psp,
        idempotencyKey: event.idempotencyKey,
        status: "pending",
      } as Attempt;
      if (event.expectedFee !== undefined) attempt.expectedFee = event.expectedFee;
      if (event.trigger !== undefined) attempt.trigger = event.trigger;
      if (event.notBefore !== undefined) attempt.notBefore = event.notBefore;
      if (event.threeDs === true) attempt.threeDs = true;
      attempt.requestedAt = at;
      return changed(state, {
        updatedAt: at,
        status: PaymentStatus.authorizing,
        psp: event.psp,
        attempts: [...state.attempts, attempt],
      });
    }
    case "PaymentAuthorized":
      return changed(state, {
        updatedAt: at,
        attempts: withAttempt(state.attempts, event.attemptNo, {
          status: "authorized",
          pspReference: event.pspReference,
          completedAt: at,
        }),
        status: event.captured ? PaymentStatus.captured : PaymentStatus.authorized,
        capturedAmount: event.captured ? state.amount : 0,
        pspReference: event.pspReference,
      });
    case "PaymentDeclined": {
      const patch: Partial<Attempt> = { status: "declined", code: event.code };
      if (event.class !== undefined) patch.class = event.class;
      patch.completedAt = at;
      return changed(state, {
        updatedAt: at,
        attempts: withAttempt(state.attempts, event.attemptNo, patch),
        status: PaymentStatus.declined,
        declineCode: event.code,
      });
    }
    case "AttemptDeclined":
      return changed(state, {
        updatedAt: at,
        attempts: withAttempt(state.attempts, event.attemptNo, {
          status: "declined",
          code: event.code,
          class: event.class,
          completedAt: at,
        }),
      });
    case "PaymentRequiresAction":
      return changed(state, {
        updatedAt: at,
        attempts: withAttempt(state.attempts, event.attemptNo, {
          status: "requires_action",
          pspReference: event.pspReference,
          completedAt: at,
        }),
        status: PaymentStatus.requiresAction,
        pspReference: event.pspReference,
        actionUrl: event.actionUrl,
      });
    case "AuthorizationFailed": {
      const patch: Partial<Attempt> = { status: "failed", code: event.code };
      if (event.class !== undefined) patch.class = event.class;
      patch.completedAt = at;
      return changed(state, { updatedAt: at, attempts: withAttempt(state.attempts, event.attemptNo, patch) });
    }
    case "AuthorizationOutcomeUnknown":
      return changed(state, {
        updatedAt: at,
        attempts: withAttempt(state.attempts, event.attemptNo, { status: "unknown", code: event.code }),
      });
    case "PaymentFailed":
      return changed(state, { updatedAt: at, status: PaymentStatus.failed, failureCode: event.code });
    case "OperationRequested":
      return changed(state, {
        updatedAt: at,
        status: event.kind === "capture" ? PaymentStatus.capturing : state.status,
        operations: [
          ...state.operations,
          {
            id: event.operationId,
            kind: event.kind,
            requestFingerprint: event.requestFingerprint,
            amount: event.amount,
            idempotencyKey: event.idempotencyKey,
            status: "pending",
            requestedAt: at,
          },
        ],
      });
    case "OperationSucceeded": {
      const op = state.operations.find((o) => o.id === event.operationId);
      if (!op) return changed(state, { updatedAt: at });
      const operations = withOperation(state.operations, op.id, {
        status: "succeeded",
        pspReference: event.pspReference,
        completedAt: at,
      });
      if (op.kind === "capture")
        return changed(state, {
          updatedAt: at,
          operations,
          status: PaymentStatus.captured,
          capturedAmount: op.amount,
        });
      // The void of an expiry leaves the payment expired: it ended there, not at the merchant's cancel.
      if (op.kind === "void")
        return state.status === PaymentStatus.expired
          ? changed(state, { updatedAt: at, operations })
          : changed(state, { updatedAt: at, operations, status: PaymentStatus.canceled });
      const refundedAmount = state.refundedAmount + op.amount;
      return changed(state, {
        updatedAt: at,
        operations,
        refundedAmount,
        status:
          refundedAmount >= state.capturedAmount ? PaymentStatus.refunded : PaymentStatus.partiallyRefunded,
      });
    }
    case "OperationFailed": {
      const op = state.operations.find((o) => o.id === event.operationId);
      if (!op) return changed(state, { updatedAt: at });
      const operations = withOperation(state.operations, op.id, {
        status: "failed",
        code: event.code,
        completedAt: at,
      });
      // A refused capture leaves the authorization as it was.
      return op.kind === "capture"
        ? changed(state, { updatedAt: at, operations, status: PaymentStatus.authorized })
        : changed(state, { updatedAt: at, operations });
    }
    case "OperationOutcomeUnknown":
      return changed(state, {
        updatedAt: at,
        operations: withOperation(state.operations, event.operationId, {
          status: "unknown",
          code: event.code,
        }),
      });
    case "OperationAccepted":
      return changed(state, {
        updatedAt: at,
        operations: withOperation(state.operations, event.operationId, {
          status: "accepted",
          pspReference: event.pspReference,
        }),
      });
    case "PaymentExpired":
      return changed(state, {
        updatedAt: at,
        attempts: withAttempt(state.attempts, event.attemptNo, { status: "expired", completedAt: at }),
        status: PaymentStatus.expired,
      });
    case "DisputeOpened": {
      const { type: _t, disputeId, at: openedAt, ...rest } = event;
      const dispute = { id: disputeId, ...rest, status: "open" as const, openedAt };
      return changed(state, { updatedAt: at, disputes: [...(state.disputes ?? []), dispute] });
    }
    case "DisputeClosed":
      return changed(state, {
        updatedAt: at,
        disputes: (state.disputes ?? []).map((d) =>
          d.id === event.disputeId ? changed(d, { status: event.outcome, closedAt: at }) : d,
        ),
      });
    case "CaptureSettled":
    case "RefundSettled": {
      const { type, at: _at, currency: _c, ...rest } = event;
      const settlement = { kind: type === "CaptureSettled" ? "capture" : "refund", ...rest } as const;
      return changed(state, { updatedAt: at, settlements: [...(state.settlements ?? []), settlement] });
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

/**
 * `{ ...value, ...changes }`, keys in the same order, built with Object.assign: on Node 20 a literal
 * that spreads an object and then adds a key the object lacks takes V8's slow path (~1.5 µs against
 * ~0.3 µs here, measured), and most events add one (`psp`, `pspReference`, `completedAt`, …). evolve
 * runs for every event the actor appends and every frame the read models and the webhook catalog fold.
 */
function changed<T extends object>(value: T, changes: Partial<T>): T {
  return Object.assign({}, value, changes);
}

function withAttempt(attempts: Attempt[], no: number, patch: Partial<Attempt>): Attempt[] {
  return attempts.map((a) => (a.no === no ? changed(a, patch) : a));
}

function withOperation(operations: Operation[], id: string, patch: Partial<Operation>): Operation[] {
  return operations.map((o) => (o.id === id ? changed(o, patch) : o));
}
