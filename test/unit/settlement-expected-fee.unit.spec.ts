// The fee a settlement line is checked against (issue 16): a partial capture's expected fee is the fee
// terms recorded at routing applied to the amount captured; a payment routed before the terms were
// recorded keeps the old pro rata.
import { expect } from "chai";
import type { PaymentEvent } from "../../actors/payment/core/events.ts";
import type { Payment } from "../../actors/payment/core/state.ts";
import { operationOf } from "../../actors/projections/payments.ts";
import { evt, routeOf, stateOf } from "./decider-spec.ts";

const TERMS = { fixed: 25, ppm: 14_000, minimum: 0 };

function routed(withTerms: boolean): PaymentEvent {
  const decision = routeOf(["psp_a"]);
  decision.candidates = decision.candidates.map((c) => ({
    ...c,
    expectedFee: 165,
    ...(withTerms && { feeTerms: TERMS }),
  }));
  return { type: "PaymentRouted", decision, at: "2025-03-01T10:00:00.000Z" };
}

function captureOf(withTerms: boolean, captured: number) {
  const before = stateOf(
    evt.created({ amount: 10_000 }),
    routed(withTerms),
    evt.authRequested(1, "psp_a", undefined, { expectedFee: 165 }),
    evt.authorized(1, false),
    evt.opRequested("capture", captured),
  ) as Payment;
  return operationOf(before, evt.opSucceeded());
}

describe("the expected fee of a capture (issue 16)", () => {
  it("applies the routing-time fee terms to the amount captured: the fixed part in full", () => {
    expect(captureOf(true, 1_000)?.expected_fee).to.equal(25 + 14);
    expect(captureOf(true, 10_000)?.expected_fee).to.equal(165);
  });

  it("pro-rates the routing-time fee for a payment routed before the terms were recorded", () => {
    expect(captureOf(false, 1_000)?.expected_fee).to.equal(17);
  });
});
