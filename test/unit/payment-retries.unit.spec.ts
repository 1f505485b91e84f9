// Specifications of retries and cascades in the payment decider: what each class of PSP answer does
// under the retry terms the payment recorded when it was routed.
import { expect } from "chai";
import type { RecordAuthorizationResult } from "../../actors/payment/core/commands.ts";
import { toView } from "../../actors/payment/core/view.ts";
import { AT, LATER, cmd, evt, given, psp, routeOf, stateOf } from "./decider-spec.ts";

type AuthResult = RecordAuthorizationResult["result"];

const soft = (code = "do_not_honor"): AuthResult => ({
  outcome: "declined",
  code,
  soft: true,
  rawCode: "05",
  class: "soft_decline",
});
const hard = (code = "expired_card"): AuthResult => ({
  outcome: "declined",
  code,
  soft: false,
  rawCode: "54",
  class: "hard_decline",
});
const technical = (code = "psp_unavailable"): AuthResult => ({
  outcome: "technical_error",
  code,
  class: "technical",
});

const THREE = ["acme", "bolt", "carp"];

describe("payment retries and cascades", () => {
  it("records the expected fee of the chosen PSP on the first attempt and on the payment", () => {
    const route = routeOf(THREE);
    route.candidates[0]!.expectedFee = 165;
    route.candidates[1]!.expectedFee = 140;
    const d = given().when(cmd.create({ route }));
    expect(d.decision.ok).to.equal(true);
    const p = d.thenState({ status: "authorizing", psp: "acme" });
    expect(p.attempts[0]).to.include({ expectedFee: 165, trigger: "routed" });
    expect(toView(p).expected_fee).to.equal(165);
    expect(toView(p).routing).to.deep.include({ rule_id: null, strategy: "priority" });
  });

  it("cascades a soft decline to the next PSP, keeping both attempts with their own keys", () => {
    const p = given(evt.created(), evt.routed(THREE), evt.authRequested(1, "acme"))
      .when(cmd.authResult(1, soft()))
      .then(
        {
          type: "AttemptDeclined",
          attemptNo: 1,
          code: "do_not_honor",
          rawCode: "05",
          class: "soft_decline",
          at: LATER,
        },
        evt.authRequested(2, "bolt", LATER),
      )
      .thenState({ status: "authorizing", psp: "bolt" });
    expect(p.attempts.map((a) => [a.psp, a.status, a.class ?? null, a.idempotencyKey])).to.deep.equal([
      ["acme", "declined", "soft_decline", "pay_1.a1"],
      ["bolt", "pending", null, "pay_1.a2"],
    ]);
  });

  it("declines the payment on a hard decline without trying another PSP", () => {
    given(evt.created(), evt.routed(THREE), evt.authRequested(1, "acme"))
      .when(cmd.authResult(1, hard()))
      .then({
        type: "PaymentDeclined",
        attemptNo: 1,
        code: "expired_card",
        soft: false,
        rawCode: "54",
        class: "hard_decline",
        at: LATER,
      })
      .thenState({ status: "declined", declineCode: "expired_card" });
  });

  it("declines on a soft decline when the retry terms do not cascade soft declines", () => {
    given(evt.created(), evt.routed(THREE, { cascadeOn: ["technical"] }), evt.authRequested(1, "acme"))
      .when(cmd.authResult(1, soft()))
      .thenState({ status: "declined", declineCode: "do_not_honor" });
  });

  it("stops at max_attempts even with PSPs left to try", () => {
    given(
      evt.created(),
      evt.routed(THREE, { maxAttempts: 2 }),
      evt.authRequested(1, "acme"),
      {
        type: "AttemptDeclined",
        attemptNo: 1,
        code: "do_not_honor",
        rawCode: "05",
        class: "soft_decline",
        at: LATER,
      },
      evt.authRequested(2, "bolt", LATER),
    )
      .when(cmd.authResult(2, soft()))
      .thenState({ status: "declined" });
  });

  it("declines when the last candidate soft-declines too", () => {
    given(
      evt.created(),
      evt.routed(["acme", "bolt"]),
      evt.authRequested(1, "acme"),
      {
        type: "AttemptDeclined",
        attemptNo: 1,
        code: "do_not_honor",
        rawCode: "05",
        class: "soft_decline",
        at: LATER,
      },
      evt.authRequested(2, "bolt", LATER),
    )
      .when(cmd.authResult(2, soft()))
      .thenState({ status: "declined", declineCode: "do_not_honor" });
  });

  it("retries the same PSP after a technical error with backoff, then cascades", () => {
    const terms = { samePspRetries: 1, backoffInitialMs: 100, backoffMultiplier: 2, backoffMaxMs: 1000 };
    const base = [evt.created(), evt.routed(THREE, terms), evt.authRequested(1, "acme")];
    given(...base)
      .when(cmd.authResult(1, technical()))
      .then(
        evt.authFailed(1, "psp_unavailable"),
        evt.authRequested(2, "acme", LATER, { trigger: "retry", notBefore: "2025-03-01T10:00:05.100Z" }),
      );
    given(
      ...base,
      evt.authFailed(1, "psp_unavailable"),
      evt.authRequested(2, "acme", LATER, { trigger: "retry", notBefore: "2025-03-01T10:00:05.100Z" }),
    )
      .when(cmd.authResult(2, technical()))
      .then(
        evt.authFailed(2, "psp_unavailable"),
        evt.authRequested(3, "bolt", LATER, { trigger: "cascade", notBefore: "2025-03-01T10:00:05.200Z" }),
      );
  });

  it("cascades at once, without a same-PSP retry or backoff, when our circuit breaker refused the call", () => {
    const terms = { samePspRetries: 2, backoffInitialMs: 100, backoffMultiplier: 2, backoffMaxMs: 1000 };
    given(evt.created(), evt.routed(THREE, terms), evt.authRequested(1, "acme"))
      .when(cmd.authResult(1, technical("circuit_open")))
      .then(evt.authFailed(1, "circuit_open"), evt.authRequested(2, "bolt", LATER));
  });

  it("fails with psp_unavailable when technical errors are not cascaded", () => {
    given(evt.created(), evt.routed(THREE, { cascadeOn: ["soft_decline"] }), evt.authRequested(1, "acme"))
      .when(cmd.authResult(1, technical()))
      .then(evt.authFailed(1, "psp_unavailable"), evt.failed("psp_unavailable"));
  });

  it("never moves on from an unknown outcome, whatever the terms allow", () => {
    const s = [evt.created(), evt.routed(THREE), evt.authRequested(1, "acme"), evt.authUnknown(1)];
    given(...s)
      .when(cmd.authResult(1, technical()))
      .then();
    given(...s)
      .when(cmd.authResult(1, { outcome: "unknown", code: "timeout" }))
      .then();
  });

  it("keeps a payment routed before policies on its legacy terms: fail over on technical errors only", () => {
    const legacy = [
      evt.created(),
      { type: "PaymentRouted" as const, strategy: "static_priority", candidates: ["acme", "bolt"], at: AT },
      evt.authRequested(1, "acme"),
    ];
    expect(stateOf(...legacy)?.retry).to.equal(undefined);
    given(...legacy)
      .when(cmd.authResult(1, soft()))
      .thenState({ status: "declined" });
    given(...legacy)
      .when(cmd.authResult(1, technical()))
      .then(evt.authFailed(1, "psp_unavailable"), evt.authRequested(2, "bolt", LATER));
  });
});

describe("3-D Secure step-up after an authentication_required decline", () => {
  const authRequired = (rawCode = "1A"): AuthResult => ({
    outcome: "declined",
    code: "authentication_required",
    soft: false,
    rawCode,
    class: "auth_required",
  });
  const attemptDeclined = (attemptNo: number, at = LATER) => ({
    type: "AttemptDeclined" as const,
    attemptNo,
    code: "authentication_required",
    rawCode: "1A",
    class: "auth_required" as const,
    at,
  });

  it("steps up at the same PSP, asking it for 3-D Secure, when the retry terms allow", () => {
    const p = given(evt.created(), evt.routed(THREE, { stepUp: "same_psp" }), evt.authRequested(1, "acme"))
      .when(cmd.authResult(1, authRequired()))
      .then(attemptDeclined(1), evt.authRequested(2, "acme", LATER, { trigger: "retry", threeDs: true }))
      .thenState({ status: "authorizing", psp: "acme" });
    expect(p.attempts.map((a) => [a.psp, a.status, a.threeDs ?? false])).to.deep.equal([
      ["acme", "declined", false],
      ["acme", "pending", true],
    ]);
  });

  it("steps up at the next PSP when the terms say next_psp", () => {
    given(evt.created(), evt.routed(THREE, { stepUp: "next_psp" }), evt.authRequested(1, "acme"))
      .when(cmd.authResult(1, authRequired()))
      .then(attemptDeclined(1), evt.authRequested(2, "bolt", LATER, { trigger: "cascade", threeDs: true }));
  });

  it("then waits on the shopper: the step-up's challenge makes the payment requires_action", () => {
    given(
      evt.created(),
      evt.routed(THREE, { stepUp: "same_psp" }),
      evt.authRequested(1, "acme"),
      attemptDeclined(1),
      evt.authRequested(2, "acme", LATER, { trigger: "retry", threeDs: true }),
    )
      .when(cmd.authResult(2, psp.requiresAction()))
      .thenState({ status: "requires_action", psp: "acme", pspReference: "ref_1" });
  });

  it("declines with authentication_required when the retry terms do not step up", () => {
    given(evt.created(), evt.routed(THREE), evt.authRequested(1, "acme"))
      .when(cmd.authResult(1, authRequired()))
      .then({
        type: "PaymentDeclined",
        attemptNo: 1,
        code: "authentication_required",
        soft: false,
        rawCode: "1A",
        class: "auth_required",
        at: LATER,
      })
      .thenState({ status: "declined", declineCode: "authentication_required" });
  });

  it("declines, without another step-up, when the step-up itself is declined for authentication", () => {
    given(
      evt.created(),
      evt.routed(THREE, { stepUp: "same_psp" }),
      evt.authRequested(1, "acme"),
      attemptDeclined(1),
      evt.authRequested(2, "acme", LATER, { trigger: "retry", threeDs: true }),
    )
      .when(cmd.authResult(2, authRequired()))
      .then({
        type: "PaymentDeclined",
        attemptNo: 2,
        code: "authentication_required",
        soft: false,
        rawCode: "1A",
        class: "auth_required",
        at: LATER,
      })
      .thenState({ status: "declined" });
  });

  it("declines when the shopper fails the step-up's challenge (no loop through requires_action)", () => {
    given(
      evt.created(),
      evt.routed(THREE, { stepUp: "same_psp" }),
      evt.authRequested(1, "acme"),
      attemptDeclined(1),
      evt.authRequested(2, "acme", LATER, { trigger: "retry", threeDs: true }),
      evt.requiresAction(2),
    )
      .when(cmd.authResult(2, authRequired("11")))
      .thenState({ status: "declined", declineCode: "authentication_required" });
  });

  it("declines a failed challenge the PSP started on its own rather than stepping up again", () => {
    given(
      evt.created(),
      evt.routed(THREE, { stepUp: "same_psp" }),
      evt.authRequested(1, "acme"),
      evt.requiresAction(1),
    )
      .when(cmd.authResult(1, authRequired("11")))
      .thenState({ status: "declined", declineCode: "authentication_required" });
  });

  it("declines when max_attempts is reached, or no next PSP is left to step up at", () => {
    given(
      evt.created(),
      evt.routed(THREE, { stepUp: "same_psp", maxAttempts: 1 }),
      evt.authRequested(1, "acme"),
    )
      .when(cmd.authResult(1, authRequired()))
      .thenState({ status: "declined", declineCode: "authentication_required" });
    given(evt.created(), evt.routed(["acme"], { stepUp: "next_psp" }), evt.authRequested(1, "acme"))
      .when(cmd.authResult(1, authRequired()))
      .thenState({ status: "declined", declineCode: "authentication_required" });
  });
});
