// The Stripe layer's pure parts: the form reader (bracket notation as the SDK writes it, and its
// guards), the id mapping (reversible), the status mapping (every Switchyard status has one) and the
// Stripe-Signature (checked by the official SDK's own verifier, not by ourselves).
import { expect } from "chai";
import fc from "fast-check";
import Stripe from "stripe";
import { PaymentStatus } from "../../actors/payment/core/state.ts";
import {
  chargeIdOf,
  intentIdOf,
  intentStatusOf,
  paymentIdOf,
  refundIdOf,
  refundIdParts,
  stripeSignature,
} from "../../actors/webhooks/core/stripe-objects.ts";
import { FormError, parseForm } from "../../gateway/stripe/form.ts";

/** The SDK's encoding (stripe/cjs/utils.js stringifyRequestData), restated for nested strings. */
function encode(data: Record<string, unknown>, prefix = ""): string[] {
  return Object.entries(data).flatMap(([k, v]) => {
    const key = prefix ? `${prefix}[${k}]` : k;
    if (typeof v === "object" && v !== null) return encode(v as Record<string, unknown>, key);
    return [`${encodeURIComponent(key)}=${encodeURIComponent(String(v))}`];
  });
}

describe("Stripe layer: the pure parts", () => {
  it("reads back what the SDK's encoding writes, nested objects included", () => {
    const name = fc.stringMatching(/^[a-z_][a-z0-9_]{0,11}$/);
    const leaf = fc.string({ maxLength: 20 }).filter((s) => !/[\u0000\ud800-\udfff]/.test(s));
    const tree = fc.dictionary(name, fc.oneof(leaf, fc.dictionary(name, leaf, { minKeys: 1, maxKeys: 3 })), {
      minKeys: 1,
      maxKeys: 6,
    });
    fc.assert(
      fc.property(tree, (obj) => {
        expect(JSON.parse(JSON.stringify(parseForm(encode(obj).join("&"))))).to.deep.equal(obj);
      }),
    );
  });

  it("reads indexed and empty-bracket arrays, and refuses what it must", () => {
    expect(JSON.parse(JSON.stringify(parseForm("expand[0]=a&expand[1]=b&x[]=1&x[]=2")))).to.deep.equal({
      expand: ["a", "b"],
      x: ["1", "2"],
    });
    const proto = parseForm("__proto__[polluted]=1");
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    expect(Object.keys(proto)).to.deep.equal(["__proto__"]);
    for (const bad of [
      "a=1&a=2",
      "a=1&a[b]=2",
      "a%ZZ=1",
      "a=%00",
      "a=%ED%A0%80",
      "a[b=1",
      "[a]=1",
      `a${"[b]".repeat(6)}=1`,
    ])
      expect(() => parseForm(bad), bad).to.throw(FormError);
    expect(() => parseForm(Array.from({ length: 300 }, (_, i) => `k${i}=1`).join("&"))).to.throw(FormError);
  });

  it("maps ids both ways: pi, ch and re all lead back to the payment", () => {
    const pay = "pay_0123456789abcdef01234567";
    const op = "op_89abcdef0123456789abcdef";
    expect(paymentIdOf(intentIdOf(pay), "pi")).to.equal(pay);
    expect(paymentIdOf(chargeIdOf(pay), "ch")).to.equal(pay);
    expect(refundIdParts(refundIdOf(pay, op))).to.deep.equal({ paymentId: pay, operationId: op });
    expect(paymentIdOf("pi_../../x", "pi")).to.equal(undefined);
    expect(paymentIdOf(intentIdOf(pay), "ch")).to.equal(undefined);
  });

  it("gives every Switchyard status a Stripe status", () => {
    for (const s of Object.values(PaymentStatus)) expect(intentStatusOf(s)).to.be.a("string");
    expect(intentStatusOf("authorized")).to.equal("requires_capture");
    expect(intentStatusOf("declined")).to.equal("requires_payment_method");
    expect(intentStatusOf("partially_refunded")).to.equal("succeeded");
  });

  it("signs as the SDK's constructEvent verifies, with every secret of a rotation", () => {
    const stripe = new Stripe("sk_test_unit");
    const body = JSON.stringify({
      id: "evt_1",
      object: "event",
      type: "payment_intent.succeeded",
      data: { object: {} },
    });
    const header = stripeSignature(["whsec_old", "whsec_new"], new Date(), body);
    expect(stripe.webhooks.constructEvent(body, header, "whsec_new").id).to.equal("evt_1");
    expect(stripe.webhooks.constructEvent(body, header, "whsec_old").id).to.equal("evt_1");
    expect(() => stripe.webhooks.constructEvent(body, header, "whsec_other")).to.throw(
      Stripe.errors.StripeSignatureVerificationError,
    );
  });
});
