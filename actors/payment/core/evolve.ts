// evolve(state, event) → state. Total and pure: it never throws and never looks at anything but its
// arguments, so replaying the same events always rebuilds the same payment.
//
// A new state is built with Object.assign into a fresh object (or into base()'s copy), not as
// `{ ...p, key: value }`: the same keys in the same order, but V8 gives a spread copy a hidden class
// of its own, and each key the copy then gains that the original lacked (a payment's optional fields
// arrive one event at a time) costs a new one, ~0.7–1 µs each. Keys added to a fresh object follow
// the transitions every such object shares. Measured on a create → capture's six events: 2.3–5.5 µs
// an event with spreads, 0.5–1.1 µs so (a payment's events are folded ~15 times in a process: the
// actor, the webhook catalog, the payments read model). A spread that only replaces existing keys
// (`{ ...p, attempts }`) is as fast either way and stays.
import type { PaymentEvent } from "./events.ts";
import type { Attempt, Operation, Payment, PaymentBase, PaymentState } from "./state.ts";
import { isOpen, PaymentStatus } from "./state.ts";

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
      return Object.assign({}, p, {
        candidates: event.decision?.order ?? event.candidates ?? [],
        routingStrategy: event.decision?.strategy ?? event.strategy ?? "unknown",
        ...(event.decision && { routing: event.decision, retry: event.decision.retry }),
      });
    case "AuthorizationRequested":
      return Object.assign(base(p), {
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
      });
    case "PaymentAuthorized": {
      const psp = p.psp ?? attemptOf(p, event.attemptNo)?.psp;
      if (psp === undefined) return p; // no attempt asked for it: nothing to record
      return Object.assign(answered(p, event.attemptNo, "authorized", event.pspReference, event.at), {
        status: event.captured ? PaymentStatus.captured : PaymentStatus.authorized,
        capturedAmount: event.captured ? p.amount : 0,
        psp,
        pspReference: event.pspReference,
      });
    }
    case "PaymentDeclined":
      return Object.assign(
        base(
          withAttempt(p, event.attemptNo, (a) =>
            Object.assign({}, a, {
              status: "declined" as const,
              code: event.code,
              ...(event.class !== undefined && { class: event.class }),
              completedAt: event.at,
            }),
          ),
        ),
        { status: PaymentStatus.declined, declineCode: event.code },
      );
    case "AttemptDeclined":
      return withAttempt(p, event.attemptNo, (a) =>
        Object.assign({}, a, {
          status: "declined" as const,
          code: event.code,
          class: event.class,
          completedAt: event.at,
        }),
      );
    case "PaymentRequiresAction": {
      const psp = p.psp ?? attemptOf(p, event.attemptNo)?.psp;
      if (psp === undefined) return p;
      return Object.assign(answered(p, event.attemptNo, "requires_action", event.pspReference, event.at), {
        status: PaymentStatus.requiresAction,
        psp,
        pspReference: event.pspReference,
        actionUrl: event.actionUrl,
      });
    }
    case "AuthorizationFailed":
      return withAttempt(p, event.attemptNo, (a) =>
        Object.assign({}, a, {
          status: "failed" as const,
          code: event.code,
          ...(event.class !== undefined && { class: event.class }),
          completedAt: event.at,
        }),
      );
    case "AuthorizationOutcomeUnknown":
      return withAttempt(p, event.attemptNo, (a) =>
        isOpen(a) ? Object.assign({}, a, { status: "unknown" as const, code: event.code }) : a,
      );
    case "PaymentFailed":
      return Object.assign(base(p), { status: PaymentStatus.failed, failureCode: event.code });
    case "OperationRequested": {
      const operations: Operation[] = [
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
      ];
      if (event.kind !== "capture") return { ...p, operations };
      const held = authorization(p);
      return held
        ? Object.assign(base(p), held, { status: PaymentStatus.capturing, operations })
        : { ...p, operations };
    }
    case "OperationSucceeded": {
      const op = p.operations.find((o) => o.id === event.operationId);
      if (!op) return p;
      const next = withOperation(p, op.id, (o) =>
        Object.assign({}, o, {
          status: "succeeded" as const,
          pspReference: event.pspReference,
          completedAt: event.at,
        }),
      );
      // The void of an expiry leaves the payment expired: it ended there, not at the merchant's cancel.
      if (op.kind === "void" && p.status === PaymentStatus.expired) return next;
      const held = authorization(p);
      if (!held) return next;
      if (op.kind === "capture")
        return Object.assign(base(next), held, { status: PaymentStatus.captured, capturedAmount: op.amount });
      if (op.kind === "void") return Object.assign(base(next), held, { status: PaymentStatus.canceled });
      const refundedAmount = p.refundedAmount + op.amount;
      return Object.assign(base(next), held, {
        refundedAmount,
        status: refundedAmount >= p.capturedAmount ? PaymentStatus.refunded : PaymentStatus.partiallyRefunded,
      });
    }
    case "OperationFailed": {
      const op = p.operations.find((o) => o.id === event.operationId);
      if (!op) return p;
      const next = withOperation(p, op.id, (o) =>
        Object.assign({}, o, { status: "failed" as const, code: event.code, completedAt: event.at }),
      );
      // A refused capture leaves the authorization as it was.
      const held = authorization(p);
      return op.kind === "capture" && held
        ? Object.assign(base(next), held, { status: PaymentStatus.authorized })
        : next;
    }
    case "OperationOutcomeUnknown":
      return withOperation(p, event.operationId, (o) =>
        isOpen(o) ? Object.assign({}, o, { status: "unknown" as const, code: event.code }) : o,
      );
    case "OperationAccepted":
      return withOperation(p, event.operationId, (o) =>
        isOpen(o)
          ? Object.assign({}, o, { status: "accepted" as const, pspReference: event.pspReference })
          : o,
      );
    case "PaymentExpired": {
      const held = authorization(p);
      const next = withAttempt(p, event.attemptNo, (a) =>
        Object.assign({}, a, { status: "expired" as const, completedAt: event.at }),
      );
      return held ? Object.assign(base(next), held, { status: PaymentStatus.expired }) : next;
    }
    case "DisputeOpened": {
      const { type: _t, disputeId, at, ...rest } = event;
      const dispute = { id: disputeId, ...rest, status: "open" as const, openedAt: at };
      return Object.assign({}, p, { disputes: [...(p.disputes ?? []), dispute] });
    }
    case "DisputeClosed":
      return Object.assign({}, p, {
        disputes: (p.disputes ?? []).map((d) =>
          d.id === event.disputeId ? Object.assign({}, d, { status: event.outcome, closedAt: event.at }) : d,
        ),
      });
    case "CaptureSettled":
    case "RefundSettled": {
      const { type, at: _at, currency: _c, ...rest } = event;
      const settlement = { kind: type === "CaptureSettled" ? "capture" : "refund", ...rest } as const;
      return Object.assign({}, p, { settlements: [...(p.settlements ?? []), settlement] });
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

/** What every payment has, without what only its status says (a decline or failure code, a challenge). */
function base(p: Payment): PaymentBase {
  const { status: _s, declineCode: _d, failureCode: _f, actionUrl: _a, ...rest } = p;
  return rest;
}

/** The payment without its status fields, its attempt `no` answered by the PSP (`status`, with its reference). */
function answered(
  p: Payment,
  no: number,
  status: "authorized" | "requires_action",
  pspReference: string,
  at: string,
): PaymentBase {
  return base(withAttempt(p, no, (a) => Object.assign({}, a, { status, pspReference, completedAt: at })));
}

/** The PSP and reference of the authorization the payment holds, if it holds one. */
function authorization(p: Payment): { psp: string; pspReference: string } | undefined {
  return p.psp !== undefined && p.pspReference !== undefined
    ? { psp: p.psp, pspReference: p.pspReference }
    : undefined;
}

function attemptOf(p: Payment, no: number): Attempt | undefined {
  return p.attempts.find((a) => a.no === no);
}

function withAttempt(p: Payment, no: number, change: (a: Attempt) => Attempt): Payment {
  return { ...p, attempts: p.attempts.map((a) => (a.no === no ? change(a) : a)) };
}

function withOperation(p: Payment, id: string, change: (o: Operation) => Operation): Payment {
  return { ...p, operations: p.operations.map((o) => (o.id === id ? change(o) : o)) };
}
