// The official `stripe` SDK (a locked devDependency, nothing else installed), pointed at a running
// platform with only its host, port and protocol options, drives payments as a merchant's existing
// Stripe code would: create and confirm with pm_card_visa, capture part, refund part, list with
// Stripe's pagination, a decline as StripeCardError, an idempotent replay, a reused key with other
// parameters as StripeIdempotencyError, 3-D Secure as requires_action — and each payment is a
// Switchyard payment like any other (the native API and the operators' search see it).
import { expect } from "chai";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Stripe from "stripe";
import { paymentIdOf } from "../../actors/webhooks/core/stripe-objects.ts";
import { startTestPlatform, testEnv, type TestPlatform } from "../support/platform.ts";
import { sdkFor } from "../support/stripe-sdk.ts";
import { waitFor } from "../support/wait.ts";

describe("Stripe SDK against Switchyard (e2e)", function () {
  this.timeout(60_000);
  let p: TestPlatform;
  let stripe: Stripe;

  before(async () => {
    p = await startTestPlatform({ env: testEnv() });
    stripe = sdkFor(p.url, p.merchants[0]!.key);
  });
  after(async () => {
    await p?.cleanup();
  });

  it("creates and confirms with pm_card_visa, captures part, refunds part: a Switchyard payment", async () => {
    const created = await stripe.paymentIntents.create({
      amount: 2000,
      currency: "eur",
      capture_method: "manual",
      payment_method: "pm_card_visa",
      metadata: { order: "A-1" },
    });
    expect(created.object).to.equal("payment_intent");
    expect(created.status).to.equal("requires_confirmation");
    expect(created.currency).to.equal("eur");

    const updated = await stripe.paymentIntents.update(created.id, {
      amount: 2000,
      metadata: { channel: "web" },
      description: "order A-1",
    });
    expect(updated.metadata).to.deep.equal({ order: "A-1", channel: "web" });
    expect(updated.description).to.equal("order A-1");

    const confirmed = await stripe.paymentIntents.confirm(created.id);
    expect(confirmed.id).to.equal(created.id);
    expect(confirmed.status).to.equal("requires_capture");
    expect(confirmed.amount_capturable).to.equal(2000);
    expect(confirmed.latest_charge).to.match(/^ch_/);

    const captured = await stripe.paymentIntents.capture(created.id, { amount_to_capture: 1500 });
    expect(captured.status).to.equal("succeeded");
    expect(captured.amount_received).to.equal(1500);

    const charge = await stripe.charges.retrieve(captured.latest_charge as string);
    expect(charge.amount_captured).to.equal(1500);
    expect(charge.payment_method_details?.card?.last4).to.equal("4242");

    const refund = await stripe.refunds.create({ payment_intent: created.id, amount: 500 });
    expect(refund.object).to.equal("refund");
    expect(refund.amount).to.equal(500);
    expect(refund.payment_intent).to.equal(created.id);
    expect(refund.status).to.be.oneOf(["succeeded", "pending"]);
    const again = await stripe.refunds.retrieve(refund.id);
    expect(again.id).to.equal(refund.id);
    const refunds = await stripe.refunds.list({ payment_intent: created.id });
    expect(refunds.data.map((r) => r.id)).to.deep.equal([refund.id]);

    // The same payment through the native API: routed, captured, refunded, with its metadata.
    const paymentId = paymentIdOf(created.id, "pi")!;
    const native = await p.api(p.merchants[0]!).get(`/v1/payments/${paymentId}`);
    expect(native.status).to.equal(200);
    expect(native.body.captured_amount).to.equal(1500);
    expect(native.body.refunded_amount).to.equal(500);
    expect(native.body.psp).to.be.a("string");
    expect(native.body.metadata).to.deep.equal({ order: "A-1", channel: "web" });
    // Operators find it like any payment (the read model follows within a second).
    const found = await waitFor(
      async () => {
        const r = await p.ops.get<{ payments: Array<{ id: string; status: string }> }>(
          `/ops/payments?q=${paymentId}`,
        );
        return r.body.payments?.find((x) => x.id === paymentId && x.status === "partially_refunded");
      },
      { timeoutMs: 10_000, what: "the operators' search to show the payment refunded in part" },
    );
    expect(found.id).to.equal(paymentId);
    const retrieved = await stripe.paymentIntents.retrieve(created.id);
    expect(retrieved.status).to.equal("succeeded");
    expect(retrieved.description).to.equal("order A-1");
    expect(retrieved.payment_method).to.equal("pm_card_visa");
    // Confirmed: no more updates, no second confirm.
    const late = await stripe.paymentIntents.update(created.id, { amount: 1 }).catch((e: unknown) => e);
    expect((late as Stripe.errors.StripeError).code).to.equal("payment_intent_unexpected_state");
    const twice = await stripe.paymentIntents.confirm(created.id).catch((e: unknown) => e);
    expect(twice).to.be.instanceOf(Stripe.errors.StripeInvalidRequestError);
    // Another merchant's key does not see it.
    const other = sdkFor(p.url, p.merchants[1]!.key);
    const missing = await other.paymentIntents.retrieve(created.id).catch((e: unknown) => e);
    expect(missing).to.be.instanceOf(Stripe.errors.StripeInvalidRequestError);
    expect((missing as Stripe.errors.StripeError).statusCode).to.equal(404);
  });

  it("answers a decline as StripeCardError with Stripe's code, decline_code and the intent", async () => {
    const err = await stripe.paymentIntents
      .create({ amount: 1000, currency: "eur", payment_method: "pm_card_chargeDeclined", confirm: true })
      .catch((e: unknown) => e);
    expect(err).to.be.instanceOf(Stripe.errors.StripeCardError);
    const e = err as Stripe.errors.StripeCardError;
    expect(e.statusCode).to.equal(402);
    expect(e.code).to.equal("card_declined");
    expect(e.decline_code).to.equal("generic_decline");
    expect(e.payment_intent?.status).to.equal("requires_payment_method");
    expect(e.payment_intent?.last_payment_error?.decline_code).to.equal("generic_decline");
    const insufficient = await stripe.paymentIntents
      .create({
        amount: 1000,
        currency: "eur",
        payment_method: "pm_card_chargeDeclinedInsufficientFunds",
        confirm: true,
      })
      .catch((x: unknown) => x as Stripe.errors.StripeCardError);
    expect((insufficient as Stripe.errors.StripeCardError).decline_code).to.equal("insufficient_funds");
  });

  it("replays an idempotent request byte for byte and refuses the key with other parameters", async () => {
    const key = `idem-${Date.now()}`;
    const params = { amount: 1200, currency: "eur", payment_method: "pm_card_visa", confirm: true };
    const first = await stripe.paymentIntents.create(params, { idempotencyKey: key });
    expect(first.status).to.equal("succeeded");
    const second = await stripe.paymentIntents.create(params, { idempotencyKey: key });
    expect(second.id).to.equal(first.id);
    expect(second.lastResponse.headers["idempotent-replayed"]).to.equal("true");
    expect(JSON.stringify(second)).to.equal(JSON.stringify(first));
    const other = await stripe.paymentIntents
      .create({ ...params, amount: 1300 }, { idempotencyKey: key })
      .catch((e: unknown) => e);
    expect(other).to.be.instanceOf(Stripe.errors.StripeIdempotencyError);
  });

  it("answers 3-D Secure as requires_action with next_action.redirect_to_url", async () => {
    const pi = await stripe.paymentIntents.create({
      amount: 900,
      currency: "eur",
      payment_method: "pm_card_threeDSecure2Required",
      return_url: "https://shop.example.com/return",
      confirm: true,
    });
    expect(pi.status).to.equal("requires_action");
    expect(pi.next_action?.type).to.equal("redirect_to_url");
    expect(pi.next_action?.redirect_to_url?.url).to.match(/^https?:\/\//);
  });

  it("lists intents newest first with limit, starting_after and has_more", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(
        (
          await stripe.paymentIntents.create({
            amount: 100 + i,
            currency: "eur",
            payment_method: "pm_card_visa",
            confirm: true,
          })
        ).id,
      );
    // The list reads the payments read model (fresh within a second): wait for the newest.
    const page1 = await waitFor(
      async () => {
        const page = await stripe.paymentIntents.list({ limit: 2 });
        return page.data[0]?.id === ids[2] ? page : undefined;
      },
      { timeoutMs: 10_000, what: "the newest intent listed" },
    );
    expect(page1.data.map((d) => d.id)).to.deep.equal([ids[2], ids[1]]);
    expect(page1.has_more).to.equal(true);
    const page2 = await stripe.paymentIntents.list({ limit: 1, starting_after: ids[1] });
    expect(page2.data.map((d) => d.id)).to.deep.equal([ids[0]]);
  });

  it("delivers Stripe-format webhooks that the SDK's constructEvent verifies", async () => {
    const got: Array<{ body: string; signature: string }> = [];
    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        got.push({
          body: Buffer.concat(chunks).toString("utf8"),
          signature: String(req.headers["stripe-signature"] ?? ""),
        });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const endpoint = await p.api(p.merchants[0]!).post("/v1/webhook_endpoints", {
        url: `http://127.0.0.1:${port}/stripe-hook`,
        enabled_events: ["*"],
        format: "stripe",
      });
      expect(endpoint.status, JSON.stringify(endpoint.body)).to.equal(201);
      const secret = (endpoint.body as unknown as { secret: string; format: string }).secret;
      expect((endpoint.body as unknown as { format: string }).format).to.equal("stripe");

      const pi = await stripe.paymentIntents.create({
        amount: 3100,
        currency: "eur",
        payment_method: "pm_card_visa",
        confirm: true,
      });
      await stripe.refunds.create({ payment_intent: pi.id, amount: 100 });
      const verified = (type: string) =>
        got
          .map((g) => stripe.webhooks.constructEvent(g.body, g.signature, secret))
          .find(
            (e) =>
              e.type === type &&
              (e.data.object as { id: string; payment_intent?: string }).id.slice(3) === pi.id.slice(3),
          );
      const succeeded = await waitFor(() => verified("payment_intent.succeeded"), {
        timeoutMs: 20_000,
        what: "payment_intent.succeeded",
      });
      expect(succeeded.object).to.equal("event");
      expect(succeeded.id).to.match(/^evt_/);
      expect(succeeded.livemode).to.equal(false);
      expect((succeeded.data.object as Stripe.PaymentIntent).status).to.equal("succeeded");
      const refunded = await waitFor(() => verified("charge.refunded"), {
        timeoutMs: 20_000,
        what: "charge.refunded",
      });
      const charge = refunded.data.object as Stripe.Charge;
      expect(charge.object).to.equal("charge");
      expect(charge.amount_refunded).to.equal(100);
      expect(charge.payment_intent).to.equal(pi.id);
      // A tampered body fails the SDK's own check.
      const one = got[0]!;
      expect(() =>
        stripe.webhooks.constructEvent(one.body.replace("event", "evenT"), one.signature, secret),
      ).to.throw(Stripe.errors.StripeSignatureVerificationError);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("cancels an unconfirmed intent and an authorized one; echoes Stripe-Version", async () => {
    const open = await stripe.paymentIntents.create({ amount: 700, currency: "eur" });
    expect(open.status).to.equal("requires_payment_method");
    expect(open.lastResponse.apiVersion).to.be.a("string");
    const canceled = await stripe.paymentIntents.cancel(open.id);
    expect(canceled.status).to.equal("canceled");
    const held = await stripe.paymentIntents.create({
      amount: 800,
      currency: "eur",
      capture_method: "manual",
      payment_method: "pm_card_mastercard",
      confirm: true,
    });
    expect(held.status).to.equal("requires_capture");
    const voided = await stripe.paymentIntents.cancel(held.id);
    expect(voided.status).to.equal("canceled");
  });
});
