// Specification helper for the payment decider, after Emmett:
// given(...events).when(command).then(...events) / .thenRejects(code) / .thenState(partial).
// Plus factories with fixed ids and times, so a spec names only what it is about.
import { expect } from "chai";
import type { RetryTerms, RoutingDecision } from "../../actors/policy/core/decision.ts";
import type {
  CancelPayment,
  CapturePayment,
  CreateRoutedPayment,
  PaymentCommand,
  RecordAuthorizationResult,
  RecordOperationResult,
  RefundPayment,
} from "../../actors/payment/core/commands.ts";
import type { Decision, RejectionCode } from "../../actors/payment/core/decide.ts";
import { attemptKey, decide, operationKey } from "../../actors/payment/core/decide.ts";
import type { CardFacts, OperationKind, PaymentEvent } from "../../actors/payment/core/events.ts";
import { evolveAll } from "../../actors/payment/core/evolve.ts";
import type { Payment, PaymentState } from "../../actors/payment/core/state.ts";
import { initialState } from "../../actors/payment/core/state.ts";

export const AT = "2025-03-01T10:00:00.000Z";
export const LATER = "2025-03-01T10:00:05.000Z";
export const PAYMENT_ID = "pay_1";
export const MERCHANT_ID = "merchant_1";
export const FINGERPRINT = "fp-create-1";
export const AMOUNT = 10_000;
export const CURRENCY = "EUR";
export const CANDIDATES = ["psp_a", "psp_b"];

export const CARD: CardFacts = {
  brand: "visa",
  last4: "4242",
  binCountry: "US",
  fingerprint: "card-fp-secret",
  expMonth: 12,
  expYear: 2030,
};

// ---- routing ----

/** Retry terms of the specs: cascade on soft declines and technical errors, 3 attempts, no backoff. */
export const TERMS: RetryTerms = {
  cascadeOn: ["soft_decline", "technical"],
  maxAttempts: 3,
  samePspRetries: 0,
  backoffInitialMs: 0,
  backoffMultiplier: 1,
  backoffMaxMs: 0,
};

/** A routing decision that tries `order` in turn (as the router would record it). */
export function routeOf(order: string[] = CANDIDATES, retry: Partial<RetryTerms> = {}): RoutingDecision {
  return {
    policyVersions: { routing: 1, fees: 1, retries: 1 },
    ruleId: null,
    ruleIndex: null,
    reason: "no rule matched; fallback",
    strategy: "priority",
    candidates: order.map((p, i) => ({
      psp: p,
      eligible: true,
      excluded: [],
      score: i,
      expectedFee: null,
      circuit: "closed",
    })),
    order,
    retry: { ...TERMS, ...retry },
  };
}

// ---- commands ----

type AuthResult = RecordAuthorizationResult["result"];
type OpResult = RecordOperationResult["result"];
type FollowUpOverrides = { operationId?: string; requestFingerprint?: string; merchantId?: string };

const followUp = (o: FollowUpOverrides) => ({
  paymentId: PAYMENT_ID,
  merchantId: o.merchantId ?? MERCHANT_ID,
  operationId: o.operationId ?? "op_1",
  requestFingerprint: o.requestFingerprint ?? `fp-${o.operationId ?? "op_1"}`,
  at: LATER,
});

export const cmd = {
  create: (o: Partial<CreateRoutedPayment> = {}): CreateRoutedPayment => ({
    type: "CreatePayment",
    paymentId: PAYMENT_ID,
    merchantId: MERCHANT_ID,
    requestFingerprint: FINGERPRINT,
    amount: AMOUNT,
    currency: CURRENCY,
    capture: "manual",
    card: CARD,
    at: AT,
    route: routeOf(),
    ...o,
  }),
  capture: (amount?: number, o: FollowUpOverrides = {}): CapturePayment => ({
    type: "CapturePayment",
    ...followUp(o),
    ...(amount !== undefined && { amount }),
  }),
  cancel: (o: FollowUpOverrides = {}): CancelPayment => ({ type: "CancelPayment", ...followUp(o) }),
  refund: (amount?: number, o: FollowUpOverrides = {}): RefundPayment => ({
    type: "RefundPayment",
    ...followUp(o),
    ...(amount !== undefined && { amount }),
  }),
  authResult: (attemptNo: number, result: AuthResult): RecordAuthorizationResult => ({
    type: "RecordAuthorizationResult",
    attemptNo,
    result,
    at: LATER,
  }),
  opResult: (operationId: string, result: OpResult): RecordOperationResult => ({
    type: "RecordOperationResult",
    operationId,
    result,
    at: LATER,
  }),
};

/** PSP answers, by outcome. */
export const psp = {
  authorized: (captured = false): AuthResult => ({ outcome: "authorized", pspReference: "ref_1", captured }),
  requiresAction: (): AuthResult => ({
    outcome: "requires_action",
    pspReference: "ref_1",
    actionUrl: "https://psp.example/3ds/1",
  }),
  declined: (): AuthResult => ({
    outcome: "declined",
    code: "insufficient_funds",
    soft: false,
    rawCode: "51",
  }),
  technicalError: (): AuthResult => ({ outcome: "technical_error", code: "connection_refused" }),
  unknown: (): AuthResult => ({ outcome: "unknown", code: "timeout" }),
  succeeded: (): OpResult => ({ outcome: "succeeded", pspReference: "op_ref_1" }),
  failed: (): OpResult => ({ outcome: "failed", code: "psp_refused" }),
  opUnknown: (): OpResult => ({ outcome: "unknown", code: "timeout" }),
};

// ---- events ----

export const evt = {
  created: (o: Partial<Extract<PaymentEvent, { type: "PaymentCreated" }>> = {}): PaymentEvent => ({
    type: "PaymentCreated",
    paymentId: PAYMENT_ID,
    merchantId: MERCHANT_ID,
    requestFingerprint: FINGERPRINT,
    amount: AMOUNT,
    currency: CURRENCY,
    capture: "manual",
    card: CARD,
    at: AT,
    ...o,
  }),
  routed: (candidates = CANDIDATES, retry: Partial<RetryTerms> = {}): PaymentEvent => ({
    type: "PaymentRouted",
    decision: routeOf(candidates, retry),
    at: AT,
  }),
  authRequested: (
    attemptNo = 1,
    pspName = CANDIDATES[0]!,
    at = AT,
    o: Partial<Extract<PaymentEvent, { type: "AuthorizationRequested" }>> = {},
  ): PaymentEvent => ({
    type: "AuthorizationRequested",
    attemptNo,
    psp: pspName,
    idempotencyKey: attemptKey(PAYMENT_ID, attemptNo),
    expectedFee: null,
    trigger: attemptNo === 1 ? "routed" : "cascade",
    at,
    ...o,
  }),
  authorized: (attemptNo = 1, captured = false): PaymentEvent => ({
    type: "PaymentAuthorized",
    attemptNo,
    pspReference: "ref_1",
    captured,
    at: LATER,
  }),
  requiresAction: (attemptNo = 1): PaymentEvent => ({
    type: "PaymentRequiresAction",
    attemptNo,
    pspReference: "ref_1",
    actionUrl: "https://psp.example/3ds/1",
    at: LATER,
  }),
  declined: (attemptNo = 1): PaymentEvent => ({
    type: "PaymentDeclined",
    attemptNo,
    code: "insufficient_funds",
    soft: false,
    rawCode: "51",
    class: "hard_decline",
    at: LATER,
  }),
  authFailed: (attemptNo = 1, code = "connection_refused"): PaymentEvent => ({
    type: "AuthorizationFailed",
    attemptNo,
    code,
    class: "technical",
    at: LATER,
  }),
  authUnknown: (attemptNo = 1): PaymentEvent => ({
    type: "AuthorizationOutcomeUnknown",
    attemptNo,
    code: "timeout",
    at: LATER,
  }),
  failed: (code: string, at = LATER): PaymentEvent => ({ type: "PaymentFailed", code, at }),
  opRequested: (kind: OperationKind, amount: number, operationId = "op_1"): PaymentEvent => ({
    type: "OperationRequested",
    operationId,
    kind,
    requestFingerprint: `fp-${operationId}`,
    amount,
    idempotencyKey: operationKey(PAYMENT_ID, operationId),
    at: LATER,
  }),
  opSucceeded: (operationId = "op_1"): PaymentEvent => ({
    type: "OperationSucceeded",
    operationId,
    pspReference: "op_ref_1",
    at: LATER,
  }),
  opFailed: (operationId = "op_1"): PaymentEvent => ({
    type: "OperationFailed",
    operationId,
    code: "psp_refused",
    at: LATER,
  }),
  opUnknown: (operationId = "op_1"): PaymentEvent => ({
    type: "OperationOutcomeUnknown",
    operationId,
    code: "timeout",
    at: LATER,
  }),
};

/** Common histories, each a prefix of the next. */
export const history = {
  authorizing: (): PaymentEvent[] => [evt.created(), evt.routed(), evt.authRequested()],
  authorized: (): PaymentEvent[] => [...history.authorizing(), evt.authorized()],
  requiresAction: (): PaymentEvent[] => [...history.authorizing(), evt.requiresAction()],
  captured: (): PaymentEvent[] => [...history.authorizing(), evt.authorized(1, true)],
};

// ---- given / when / then ----

export function stateOf(...events: PaymentEvent[]): PaymentState {
  return evolveAll(initialState(), events);
}

export type Outcome = {
  readonly decision: Decision;
  /** The command decides exactly these events; no arguments means it decides nothing. */
  then(...expected: PaymentEvent[]): { thenState(partial: Partial<Payment>): Payment };
  thenRejects(code: RejectionCode): void;
  /** The command is accepted and the state after its events includes `partial`. */
  thenState(partial: Partial<Payment>): Payment;
};

export function given(...events: PaymentEvent[]): { when(command: PaymentCommand): Outcome } {
  const state = stateOf(...events);
  return {
    when(command) {
      const decision = decide(state, command);
      const accepted = (): PaymentEvent[] => {
        if (!decision.ok) throw new Error(`expected acceptance, got rejection ${decision.rejection.code}`);
        return decision.events;
      };
      const thenState = (partial: Partial<Payment>): Payment => {
        const next = evolveAll(state, accepted());
        expect(next, "state after the decided events").to.not.equal(undefined);
        expect(next).to.deep.include(partial);
        return next!;
      };
      // `then` returns an object without a `then` of its own, so a spec returning it is no thenable.
      return {
        decision,
        then(...expected) {
          expect(accepted()).to.deep.equal(expected);
          return { thenState };
        },
        thenRejects(code) {
          expect(decision.ok, "the command should be rejected").to.equal(false);
          if (!decision.ok) expect(decision.rejection.code).to.equal(code);
        },
        thenState,
      };
    },
  };
}
