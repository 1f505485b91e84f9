// Requests the merchant API refuses before anything is published, over real HTTP: every kind of bad
// body, header and content type maps to its error code with the offending field named.
import { expect } from "chai";
import { MAX_AMOUNT } from "../../actors/payment/core/money.ts";
import { errorOf, startGateway, validCreateBody, type Harness } from "./gateway-harness.ts";

describe("gateway: request validation", function () {
  let h: Harness;

  before(async () => {
    h = await startGateway();
  });
  after(async () => {
    await h?.close();
  });

  it("answers 400 idempotency_key_missing on a POST without Idempotency-Key", async () => {
    await errorOf(
      await h.call("POST", "/v1/payments", { idem: null, body: validCreateBody() }),
      400,
      "idempotency_key_missing",
    );
    await errorOf(
      await h.call("POST", "/v1/payments/pay_x/capture", { idem: null, body: {} }),
      400,
      "idempotency_key_missing",
    );
  });

  it("answers 400 validation_error for an Idempotency-Key over 255 characters", async () => {
    const res = await h.call("POST", "/v1/payments", { idem: "k".repeat(256), body: validCreateBody() });
    const body = await errorOf(res, 400, "validation_error");
    expect(body.error.details.issues?.[0]?.path).to.equal("idempotency-key");
  });

  const card = validCreateBody().payment_method as { card: Record<string, unknown> };
  const withCard = (c: Record<string, unknown>) =>
    validCreateBody({ payment_method: { type: "card", card: { ...card.card, ...c } } });
  const badBodies: Array<[string, unknown, string, RegExp?]> = [
    ["amount 0", validCreateBody({ amount: 0 }), "amount"],
    ["amount 1.5", validCreateBody({ amount: 1.5 }), "amount", /int/],
    ["a negative amount", validCreateBody({ amount: -100 }), "amount"],
    ["a string amount", validCreateBody({ amount: "100" }), "amount", /number/],
    ["an amount above the maximum", validCreateBody({ amount: MAX_AMOUNT + 1 }), "amount"],
    ["an unknown currency", validCreateBody({ currency: "XYZ" }), "currency", /unknown currency/],
    ["a lowercase currency", validCreateBody({ currency: "eur" }), "currency", /uppercase/],
    [
      "a card number failing Luhn",
      withCard({ number: "4242424242424241" }),
      "payment_method.card.number",
      /Luhn/,
    ],
    ["a card number with spaces", withCard({ number: "4242 4242 4242 4242" }), "payment_method.card.number"],
    [
      "an expired card",
      withCard({ exp_month: 1, exp_year: 2020 }),
      "payment_method.card.exp_year",
      /expired/,
    ],
    ["exp_month 13", withCard({ exp_month: 13 }), "payment_method.card.exp_month"],
    ["a 2-digit cvc", withCard({ cvc: "12" }), "payment_method.card.cvc"],
    ["an unknown field", validCreateBody({ customer: "c_1" }), "", /customer/],
    ["an unknown capture mode", validCreateBody({ capture: "later" }), "capture"],
    ["a reference over 256 characters", validCreateBody({ reference: "r".repeat(257) }), "reference"],
    [
      "more than 20 metadata keys",
      validCreateBody({
        metadata: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, "v"])),
      }),
      "metadata",
      /20/,
    ],
    ["no body fields at all", {}, "amount"],
  ];
  for (const [what, body, path, message] of badBodies)
    it(`answers 400 validation_error for ${what}, naming the field`, async () => {
      const res = await h.call("POST", "/v1/payments", { body });
      const err = await errorOf(res, 400, "validation_error");
      const issues = err.error.details.issues as Array<{ path: string; message: string; in: string }>;
      const issue = issues.find((i) => i.path === path);
      expect(issue, JSON.stringify(issues)).to.exist;
      expect(issue!.in).to.equal("body");
      if (message) expect(issue!.message).to.match(message);
    });

  it("answers 400 invalid_json for a broken JSON body", async () => {
    await errorOf(await h.call("POST", "/v1/payments", { rawBody: '{"amount": 12' }), 400, "invalid_json");
  });

  it("answers 415 unsupported_media_type for a body that is not JSON", async () => {
    const res = await h.call("POST", "/v1/payments", {
      rawBody: "amount=1250&currency=EUR",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    await errorOf(res, 415, "unsupported_media_type");
    const text = await h.call("POST", "/v1/payments", {
      rawBody: JSON.stringify(validCreateBody()),
      headers: { "content-type": "text/plain" },
    });
    await errorOf(text, 415, "unsupported_media_type");
  });

  it("answers 413 payload_too_large for a body over the limit", async () => {
    const res = await h.call("POST", "/v1/payments", {
      body: validCreateBody({ reference: "r".repeat(70 * 1024) }),
    });
    await errorOf(res, 413, "payload_too_large");
  });

  it("answers 404 not_found with the error body for an unknown route", async () => {
    await errorOf(await h.call("GET", "/v1/nothing-here"), 404, "not_found");
    await errorOf(await fetch(`${h.url}/nope`), 404, "not_found");
  });
});
