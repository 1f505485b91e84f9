// evolve builds its objects with Object.assign and key by key rather than with spreads (speed, see
// evolve.ts), so the order of a payment's keys, which snapshots and logs serialize, is pinned here:
// it is the order the spread version produced.
import { expect } from "chai";
import { decide } from "../../actors/payment/decide.ts";
import { evolveAll } from "../../actors/payment/evolve.ts";
import { cmd, psp } from "./decider-spec.ts";

describe("evolve: key order", () => {
  it("keeps the payment's and the attempt's keys in the order they were added", () => {
    const created = decide(undefined, cmd.create({ capture: "automatic" }));
    if (!created.ok) throw new Error("create refused");
    const before = evolveAll(undefined, created.events);
    const authorized = decide(before, cmd.authResult(1, psp.authorized(true)));
    if (!authorized.ok) throw new Error("authorization refused");
    const payment = evolveAll(before, authorized.events);
    expect(Object.keys(payment ?? {})).to.deep.equal([
      ...["id", "merchantId", "status", "requestFingerprint", "amount", "currency", "capture"],
      ...["capturedAmount", "refundedAmount", "card", "candidates", "attempts", "operations"],
      ...["createdAt", "updatedAt", "routingStrategy", "routing", "retry", "psp", "pspReference"],
    ]);
    expect(Object.keys(payment?.attempts[0] ?? {})).to.deep.equal([
      ...["no", "psp", "idempotencyKey", "status", "expectedFee", "trigger", "requestedAt"],
      ...["pspReference", "completedAt"],
    ]);
  });
});
