// A repeated request answers its first result: the pure fold that finds it.
import { expect } from "chai";
import { movedPastResult, stateAtResult } from "../../actors/payment/core/result.ts";
import type { Payment } from "../../actors/payment/core/state.ts";
import { AMOUNT, evt, history, stateOf } from "./decider-spec.ts";

const create = { kind: "create" } as const;
const op = (operationId: string) => ({ kind: "operation", operationId }) as const;

describe("the first result of a request", () => {
  const authorizedThenCapturedThenRefunded = [
    ...history.authorized(),
    evt.opRequested("capture", AMOUNT, "op_cap"),
    evt.opSucceeded("op_cap"),
    evt.opRequested("refund", 300, "op_ref"),
    evt.opSucceeded("op_ref"),
  ];

  it("is the authorization for a create, even after a capture and a refund", () => {
    const first = stateAtResult(authorizedThenCapturedThenRefunded, create);
    expect(first).to.deep.equal(stateOf(...history.authorized()));
  });

  it("is the capture for a capture, before the later refund", () => {
    const first = stateAtResult(authorizedThenCapturedThenRefunded, op("op_cap"));
    expect(first).to.include({ status: "captured", capturedAmount: AMOUNT, refundedAmount: 0 });
  });

  it("waits past an unknown outcome for the status query's answer", () => {
    const events = [
      ...history.authorizing(),
      evt.authUnknown(1),
      evt.authorized(1, true),
      evt.opRequested("refund", 1),
    ];
    expect(stateAtResult(events, create)).to.include({ status: "captured" });
  });

  it("passes over a failed attempt to the next one (failover)", () => {
    const events = [
      ...history.authorizing(),
      evt.authFailed(1),
      evt.authRequested(2, "psp_b"),
      evt.declined(2),
      evt.opRequested("refund", 1),
    ];
    const first = stateAtResult(events, create);
    expect(first).to.include({ status: "declined", psp: "psp_b" });
    expect(first?.attempts).to.have.length(2);
  });

  it("is the current state while the request has not come to rest", () => {
    const events = [
      ...history.authorized(),
      evt.opRequested("capture", 10, "op_cap"),
      evt.opUnknown("op_cap"),
    ];
    expect(stateAtResult(events, op("op_cap"))).to.deep.equal(stateOf(...events));
  });

  it("needs the history only when a later operation changed the payment", () => {
    const p = (events: Parameters<typeof stateOf>) => stateOf(...events) as Payment;
    expect(movedPastResult(p(history.captured()), create)).to.equal(false);
    expect(movedPastResult(p(authorizedThenCapturedThenRefunded), create)).to.equal(true);
    expect(movedPastResult(p(authorizedThenCapturedThenRefunded), op("op_cap"))).to.equal(true);
    expect(movedPastResult(p(authorizedThenCapturedThenRefunded), op("op_ref"))).to.equal(false);
  });
});
