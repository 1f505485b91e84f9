// Which payments the read model keeps `open` (the stuck list's candidates) and why the stuck list says
// they are not done: an asynchronous refund the PSP accepted stays open until its notification comes.
import { expect } from "chai";
import { isUnfinished } from "../../actors/projections/payments.ts";
import { whyStuck } from "../../actors/projections/search.ts";
import type { PaymentEvent } from "../../actors/payment/core/events.ts";
import type { Payment } from "../../actors/payment/core/state.ts";
import { evt, history, LATER, stateOf } from "./decider-spec.ts";

const accepted: PaymentEvent = {
  type: "OperationAccepted",
  operationId: "op_1",
  pspReference: "re_1",
  at: LATER,
};
const payment = (...events: PaymentEvent[]): Payment => stateOf(...events)!;

describe("payments read model: open and why", () => {
  it("keeps a payment whose refund the PSP accepted open, saying it awaits the PSP's notification", () => {
    const p = payment(...history.captured(), evt.opRequested("refund", 2_000), accepted);
    expect(isUnfinished(p)).to.equal(true);
    expect(whyStuck(p)).to.equal(
      "refund op_1 of 2000 EUR: accepted by psp_a as re_1, awaiting the PSP's notification",
    );
  });

  it("closes it once the notification's outcome is recorded", () => {
    for (const outcome of [evt.opSucceeded(), evt.opFailed()]) {
      const p = payment(...history.captured(), evt.opRequested("refund", 2_000), accepted, outcome);
      expect(isUnfinished(p), outcome.type).to.equal(false);
      expect(whyStuck(p)).to.equal(undefined);
    }
  });

  it("leaves a payment waiting on its challenge, or expired, out of the stuck list (the expiry sweep owns it)", () => {
    const waiting = payment(...history.requiresAction());
    expect(isUnfinished(waiting)).to.equal(false);
    const expired = payment(
      ...history.requiresAction(),
      { type: "PaymentExpired", attemptNo: 1, at: LATER },
      evt.opRequested("void", 0, "expiry"),
    );
    expect(expired.status).to.equal("expired");
    expect(isUnfinished(expired), "its void still to run").to.equal(true);
    expect(whyStuck(expired)).to.match(/^void expiry of 0 EUR/);
    const voided = payment(
      ...history.requiresAction(),
      { type: "PaymentExpired", attemptNo: 1, at: LATER },
      evt.opRequested("void", 0, "expiry"),
      evt.opSucceeded("expiry"),
    );
    expect([voided.status, isUnfinished(voided)]).to.deep.equal(["expired", false]);
  });
});
