// Events already in PAY_EVT stay readable: the shapes older code wrote still parse and fold to the
// same payment as their newer form.
import { expect } from "chai";
import { evolveAll } from "../../actors/payment/core/evolve.ts";
import { PaymentEvents } from "../../actors/payment/core/wire.ts";

const at = "2026-11-30T10:00:00.000Z";
const created = {
  type: "PaymentCreated",
  paymentId: "pay_old",
  merchantId: "m_1",
  requestFingerprint: "f",
  amount: 1000,
  currency: "EUR",
  capture: "manual",
  card: { brand: "visa", last4: "4242", binCountry: "US", fingerprint: "x", expMonth: 12, expYear: 2030 },
  at,
};

describe("event contract: old shapes stay readable", () => {
  it("reads a PaymentRouted written before decisions were recorded (strategy and candidates only)", () => {
    const events = PaymentEvents.parse([
      created,
      { type: "PaymentRouted", strategy: "priority", candidates: ["acme", "bolt"], at },
    ]);
    const p = evolveAll(undefined, events)!;
    expect(p.candidates).to.deep.equal(["acme", "bolt"]);
    expect(p.routingStrategy).to.equal("priority");
  });

  it("refuses a PaymentRouted that carries neither a decision nor the old fields", () => {
    expect(PaymentEvents.safeParse([created, { type: "PaymentRouted", at }]).success).to.equal(false);
  });

  it("refuses a currency the platform does not know, and an amount past the maximum, on the NATS side too", () => {
    expect(PaymentEvents.safeParse([{ ...created, currency: "XYZ" }]).success).to.equal(false);
    expect(PaymentEvents.safeParse([{ ...created, amount: 1e12 }]).success).to.equal(false);
  });
});
