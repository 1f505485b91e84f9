// An operator's resolution of an authorization the PSP left unknown: allowed only while an attempt
// is open; it closes the attempt as the PSP's answer would, naming the operator and the reason.
import { expect } from "chai";
import type { ResolvePayment } from "../../actors/payment/core/commands.ts";
import { decide } from "../../actors/payment/core/decide.ts";
import { isAtRest } from "../../actors/payment/core/effects.ts";
import { evolveAll } from "../../actors/payment/core/evolve.ts";
import type { PaymentState } from "../../actors/payment/core/state.ts";
import { cmd, LATER, MERCHANT_ID, PAYMENT_ID, psp } from "./decider-spec.ts";

function run(state: PaymentState, ...commands: Parameters<typeof decide>[1][]): PaymentState {
  for (const c of commands) {
    const d = decide(state, c);
    if (!d.ok) throw new Error(d.rejection.message);
    state = evolveAll(state, d.events);
  }
  return state;
}

const resolve = (o: Partial<ResolvePayment>): ResolvePayment => ({
  type: "ResolvePayment",
  paymentId: PAYMENT_ID,
  merchantId: MERCHANT_ID,
  outcome: "authorized",
  pspReference: "ch_confirmed",
  operator: "alice",
  reason: "PSP support confirmed the charge",
  at: LATER,
  ...o,
});

describe("an operator resolves an unknown authorization", () => {
  const unknown = () => run(undefined, cmd.create(), cmd.authResult(1, psp.unknown()));

  it("records the PSP's confirmed outcome with who and why, and closes the attempt", () => {
    const d = decide(unknown(), resolve({}));
    expect(d.ok).to.equal(true);
    if (!d.ok) return;
    expect(d.events[0]).to.deep.include({
      type: "PaymentAuthorized",
      pspReference: "ch_confirmed",
      captured: false,
      resolvedBy: { operator: "alice", reason: "PSP support confirmed the charge" },
    });
    const after = evolveAll(unknown(), d.events);
    expect(after?.status).to.equal("authorized");
    expect(after && isAtRest(after)).to.equal(true);
  });

  it("ends declined or failed with nothing left open", () => {
    for (const outcome of ["declined", "failed"] as const) {
      const d = decide(unknown(), resolve({ outcome }));
      expect(d.ok, outcome).to.equal(true);
      if (!d.ok) continue;
      const after = evolveAll(unknown(), d.events);
      expect(after?.status).to.equal(outcome);
      expect(after && isAtRest(after), outcome).to.equal(true);
    }
  });

  it("refuses when nothing is open, and an authorized outcome without the PSP's reference", () => {
    const authorized = run(undefined, cmd.create(), cmd.authResult(1, psp.authorized()));
    const refused = decide(authorized, resolve({}));
    expect(refused.ok).to.equal(false);
    if (!refused.ok) expect(refused.rejection.code).to.equal("invalid_state_transition");
    const noRef = decide(unknown(), resolve({ pspReference: undefined }));
    expect(noRef.ok).to.equal(false);
    expect(decide(undefined, resolve({})).ok).to.equal(false);
  });
});
