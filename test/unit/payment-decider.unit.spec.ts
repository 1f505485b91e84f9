// Specifications of the payment decider: decide() and evolve() read as given/when/then.
import { expect } from "chai";
import { attemptKey } from "../../actors/payment/core/decide.ts";
import { nextEffect } from "../../actors/payment/core/effects.ts";
import { toView } from "../../actors/payment/core/view.ts";
import {
  AMOUNT,
  AT,
  CANDIDATES,
  CARD,
  FINGERPRINT,
  LATER,
  MERCHANT_ID,
  PAYMENT_ID,
  cmd,
  evt,
  given,
  history,
  psp,
  routeOf,
  stateOf,
} from "./decider-spec.ts";

const [PSP_A, PSP_B] = CANDIDATES as [string, string];

describe("payment decider", () => {
  describe("creating a payment", () => {
    it("records the payment, its route and attempt 1 on the first candidate, keyed by attemptKey", () => {
      const next = given()
        .when(cmd.create())
        .then(evt.created(), evt.routed(), evt.authRequested(1, PSP_A))
        .thenState({ status: "authorizing", candidates: CANDIDATES, psp: PSP_A, capturedAmount: 0 });
      expect(next.attempts[0]?.idempotencyKey).to.equal(attemptKey(PAYMENT_ID, 1));
    });

    it("fails the payment with no_route when the route has no candidates", () => {
      given()
        .when(cmd.create({ route: routeOf([]) }))
        .then(evt.created(), evt.routed([]), evt.failed("no_route", AT))
        .thenState({ status: "failed", failureCode: "no_route", attempts: [] });
    });

    it("decides nothing when the same request is created again", () => {
      given(...history.authorized())
        .when(cmd.create())
        .then();
    });

    it("rejects the same payment id with another request body as idempotency_key_reused", () => {
      given(...history.authorizing())
        .when(cmd.create({ requestFingerprint: "another-body" }))
        .thenRejects("idempotency_key_reused");
    });
  });

  describe("recording an authorization result", () => {
    it("authorizes the payment without capturing it", () => {
      given(...history.authorizing())
        .when(cmd.authResult(1, psp.authorized(false)))
        .then(evt.authorized(1, false))
        .thenState({ status: "authorized", capturedAmount: 0, pspReference: "ref_1" });
    });

    it("captures the whole amount when the PSP authorized and captured at once", () => {
      const next = given(...history.authorizing())
        .when(cmd.authResult(1, psp.authorized(true)))
        .then(evt.authorized(1, true))
        .thenState({ status: "captured", capturedAmount: AMOUNT });
      expect(toView(next).captured_amount).to.equal(AMOUNT);
    });

    it("declines the payment and keeps the decline code", () => {
      given(...history.authorizing())
        .when(cmd.authResult(1, psp.declined()))
        .then(evt.declined(1))
        .thenState({ status: "declined", declineCode: "insufficient_funds" });
    });

    it("asks for customer action with the PSP's redirect url", () => {
      const next = given(...history.authorizing())
        .when(cmd.authResult(1, psp.requiresAction()))
        .then(evt.requiresAction(1))
        .thenState({ status: "requires_action", actionUrl: "https://psp.example/3ds/1" });
      expect(toView(next).next_action).to.deep.equal({ type: "redirect", url: "https://psp.example/3ds/1" });
    });

    it("marks the attempt unknown on a timeout while the payment stays authorizing", () => {
      const next = given(...history.authorizing())
        .when(cmd.authResult(1, psp.unknown()))
        .then(evt.authUnknown(1))
        .thenState({ status: "authorizing" });
      expect(next.attempts[0]?.status).to.equal("unknown");
    });

    it("decides nothing when an unknown attempt times out again", () => {
      given(...history.authorizing(), evt.authUnknown(1))
        .when(cmd.authResult(1, psp.unknown()))
        .then();
    });

    it("resolves an unknown attempt when the status query finds it authorized", () => {
      given(...history.authorizing(), evt.authUnknown(1))
        .when(cmd.authResult(1, psp.authorized()))
        .then(evt.authorized(1))
        .thenState({ status: "authorized" });
    });

    it("fails over to the next candidate on a technical error, with the next attempt's key", () => {
      const next = given(...history.authorizing())
        .when(cmd.authResult(1, psp.technicalError()))
        .then(evt.authFailed(1), evt.authRequested(2, PSP_B, LATER))
        .thenState({ status: "authorizing", psp: PSP_B });
      expect(next.attempts.map((a) => [a.no, a.status, a.idempotencyKey])).to.deep.equal([
        [1, "failed", attemptKey(PAYMENT_ID, 1)],
        [2, "pending", attemptKey(PAYMENT_ID, 2)],
      ]);
    });

    it("fails the payment with psp_unavailable on a technical error at the last candidate", () => {
      given(...history.authorizing(), evt.authFailed(1), evt.authRequested(2, PSP_B, LATER))
        .when(cmd.authResult(2, psp.technicalError()))
        .then(evt.authFailed(2), evt.failed("psp_unavailable"))
        .thenState({ status: "failed", failureCode: "psp_unavailable" });
    });

    it("never fails over after an unknown outcome, since a charge may exist", () => {
      given(...history.authorizing(), evt.authUnknown(1))
        .when(cmd.authResult(1, psp.technicalError()))
        .then();
    });

    it("ignores a late result for an attempt that is already closed", () => {
      given(...history.authorizing(), evt.authFailed(1), evt.authRequested(2, PSP_B, LATER))
        .when(cmd.authResult(1, psp.authorized()))
        .then();
      given(...history.authorized())
        .when(cmd.authResult(1, psp.declined()))
        .then();
    });

    it("ignores a result for an attempt that was never requested, or a payment that does not exist", () => {
      given(...history.authorizing())
        .when(cmd.authResult(7, psp.authorized()))
        .then();
      given().when(cmd.authResult(1, psp.authorized())).then();
    });
  });

  describe("capturing", () => {
    it("captures the full authorized amount when no amount is given", () => {
      given(...history.authorized())
        .when(cmd.capture())
        .then(evt.opRequested("capture", AMOUNT))
        .thenState({ status: "capturing" });
    });

    it("captures part of the authorized amount", () => {
      given(...history.authorized())
        .when(cmd.capture(2_500))
        .then(evt.opRequested("capture", 2_500));
      given(...history.authorized(), evt.opRequested("capture", 2_500))
        .when(cmd.opResult("op_1", psp.succeeded()))
        .then(evt.opSucceeded())
        .thenState({ status: "captured", capturedAmount: 2_500 });
    });

    it("rejects a capture above the authorized amount as amount_too_large", () => {
      given(...history.authorized())
        .when(cmd.capture(AMOUNT + 1))
        .thenRejects("amount_too_large");
    });

    it("rejects a capture before authorization or after capture as invalid_state_transition", () => {
      given(...history.authorizing())
        .when(cmd.capture())
        .thenRejects("invalid_state_transition");
      given(...history.captured())
        .when(cmd.capture())
        .thenRejects("invalid_state_transition");
      given(...history.requiresAction())
        .when(cmd.capture())
        .thenRejects("invalid_state_transition");
    });
  });

  describe("canceling", () => {
    it("voids an authorized payment and ends canceled", () => {
      given(...history.authorized())
        .when(cmd.cancel())
        .then(evt.opRequested("void", 0))
        .thenState({ status: "authorized" });
      given(...history.authorized(), evt.opRequested("void", 0))
        .when(cmd.opResult("op_1", psp.succeeded()))
        .then(evt.opSucceeded())
        .thenState({ status: "canceled" });
    });

    it("voids a payment waiting for customer action", () => {
      given(...history.requiresAction())
        .when(cmd.cancel())
        .then(evt.opRequested("void", 0));
    });

    it("rejects canceling a captured payment", () => {
      given(...history.captured())
        .when(cmd.cancel())
        .thenRejects("invalid_state_transition");
    });
  });

  describe("refunding", () => {
    const refunded = (amount: number, id: string) => [
      evt.opRequested("refund", amount, id),
      evt.opSucceeded(id),
    ];

    it("adds partial refunds up and ends refunded at the captured amount", () => {
      given(...history.captured(), ...refunded(3_000, "op_1"))
        .when(cmd.refund(7_000, { operationId: "op_2" }))
        .then(evt.opRequested("refund", 7_000, "op_2"));
      const partly = stateOf(...history.captured(), ...refunded(3_000, "op_1"));
      expect(partly).to.deep.include({ status: "partially_refunded", refundedAmount: 3_000 });
      const whole = stateOf(...history.captured(), ...refunded(3_000, "op_1"), ...refunded(7_000, "op_2"));
      expect(whole).to.deep.include({ status: "refunded", refundedAmount: AMOUNT });
    });

    it("refunds what is left when no amount is given", () => {
      given(...history.captured(), ...refunded(3_000, "op_1"))
        .when(cmd.refund(undefined, { operationId: "op_2" }))
        .then(evt.opRequested("refund", 7_000, "op_2"));
    });

    it("rejects a refund above the refundable amount", () => {
      given(...history.captured(), ...refunded(3_000, "op_1"))
        .when(cmd.refund(7_001, { operationId: "op_2" }))
        .thenRejects("amount_too_large");
    });

    it("rejects refunding a payment that was only authorized", () => {
      given(...history.authorized())
        .when(cmd.refund())
        .thenRejects("invalid_state_transition");
    });
  });

  describe("follow-up idempotency and ownership", () => {
    it("answers payment_not_found to another merchant, so ids do not leak", () => {
      given(...history.authorized())
        .when(cmd.capture(undefined, { merchantId: "merchant_2" }))
        .thenRejects("payment_not_found");
    });

    it("answers payment_not_found for a payment that does not exist", () => {
      given().when(cmd.refund()).thenRejects("payment_not_found");
    });

    it("decides nothing for the same operation repeated with the same body", () => {
      given(...history.authorized(), evt.opRequested("capture", AMOUNT))
        .when(cmd.capture())
        .then();
      given(...history.authorized(), evt.opRequested("capture", AMOUNT), evt.opSucceeded())
        .when(cmd.capture())
        .then();
    });

    it("rejects the same operation id with another body as idempotency_key_reused", () => {
      given(...history.authorized(), evt.opRequested("capture", AMOUNT))
        .when(cmd.capture(100, { requestFingerprint: "another-body" }))
        .thenRejects("idempotency_key_reused");
    });

    it("rejects a second operation while one is pending or unknown as operation_in_progress", () => {
      given(...history.authorized(), evt.opRequested("capture", AMOUNT))
        .when(cmd.cancel({ operationId: "op_2" }))
        .thenRejects("operation_in_progress");
      given(...history.captured(), evt.opRequested("refund", 100), evt.opUnknown())
        .when(cmd.refund(100, { operationId: "op_2" }))
        .thenRejects("operation_in_progress");
    });
  });

  describe("recording an operation result", () => {
    const capturing = () => [...history.authorized(), evt.opRequested("capture", AMOUNT)];

    it("completes a succeeded operation", () => {
      given(...capturing())
        .when(cmd.opResult("op_1", psp.succeeded()))
        .then(evt.opSucceeded())
        .thenState({ status: "captured", capturedAmount: AMOUNT });
    });

    it("returns a failed capture to authorized, so it may be captured again", () => {
      given(...capturing())
        .when(cmd.opResult("op_1", psp.failed()))
        .then(evt.opFailed())
        .thenState({ status: "authorized", capturedAmount: 0 });
      given(...capturing(), evt.opFailed())
        .when(cmd.capture(undefined, { operationId: "op_2" }))
        .then(evt.opRequested("capture", AMOUNT, "op_2"));
    });

    it("marks the operation unknown once, then waits for a resolution", () => {
      const next = given(...capturing())
        .when(cmd.opResult("op_1", psp.opUnknown()))
        .then(evt.opUnknown())
        .thenState({ status: "capturing" });
      expect(next.operations[0]?.status).to.equal("unknown");
      given(...capturing(), evt.opUnknown())
        .when(cmd.opResult("op_1", psp.opUnknown()))
        .then();
      given(...capturing(), evt.opUnknown())
        .when(cmd.opResult("op_1", psp.succeeded()))
        .then(evt.opSucceeded());
    });

    it("ignores results for closed or unknown operations", () => {
      given(...capturing(), evt.opSucceeded())
        .when(cmd.opResult("op_1", psp.failed()))
        .then();
      given(...capturing())
        .when(cmd.opResult("op_9", psp.succeeded()))
        .then();
    });
  });

  describe("next effect and view", () => {
    it("finds the open authorization attempt, pending or unknown", () => {
      expect(nextEffect(stateOf(...history.authorizing()))).to.deep.include({ kind: "authorize" });
      const unknown = nextEffect(stateOf(...history.authorizing(), evt.authUnknown(1)));
      expect(unknown?.kind === "authorize" && unknown.attempt.idempotencyKey).to.equal(
        attemptKey(PAYMENT_ID, 1),
      );
    });

    it("finds the open operation, and nothing once everything is closed", () => {
      const open = nextEffect(stateOf(...history.authorized(), evt.opRequested("capture", AMOUNT)));
      expect(open?.kind === "operation" && open.operation.id).to.equal("op_1");
      expect(nextEffect(stateOf(...history.authorized()))).to.equal(undefined);
      expect(nextEffect(stateOf())).to.equal(undefined);
    });

    it("never shows the card fingerprint or a card number in the merchant view", () => {
      const p = stateOf(...history.captured());
      const json = JSON.stringify(toView(p!));
      expect(json).to.not.include(CARD.fingerprint);
      expect(json).to.not.include("fingerprint");
      expect(json).to.not.include(FINGERPRINT);
      expect(json).to.not.include("4242424242424242");
      expect(json).to.not.match(/\d{12,19}/);
      expect(Object.keys(toView(p!).card)).to.deep.equal([
        "brand",
        "last4",
        "bin_country",
        "exp_month",
        "exp_year",
      ]);
      expect(toView(p!).merchant_id).to.equal(MERCHANT_ID);
    });
  });
});
