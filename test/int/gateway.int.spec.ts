// The merchant API over real HTTP, publishing to a real CommandBus on the real NATS: authentication,
// creating payments and following up on them. No worker runs: where a test needs the actor's
// answer, it plays the actor on the reply inbox.
import { createHash, randomBytes } from "node:crypto";
import { expect } from "chai";
import { canonicalJson, operationIdFor, paymentIdFor } from "../../actors/payment/core/ids.ts";
import type { PaymentView } from "../../actors/payment/core/view.ts";
import { cardFactsOf, deriveFingerprintKeys, requestFingerprint } from "../../gateway/commands.ts";
import { openCard } from "../../actors/payment/card-seal.ts";
import { CommandEnvelope } from "../../actors/payment/core/wire.ts";
import { Header, decodeJson } from "../../streams/envelopes.ts";
import { commandSubject } from "../../streams/topology.ts";
import {
  MERCHANTS,
  PAN,
  errorOf,
  startGateway,
  validCreateBody,
  viewOf,
  type Harness,
} from "./gateway-harness.ts";

describe("gateway: the merchant API over HTTP", function () {
  let h: Harness;

  before(async () => {
    h = await startGateway();
  });
  after(async () => {
    await h?.close();
  });
  afterEach(() => {
    h.actor.respond = undefined;
    h.views.clear();
  });

  describe("authentication", () => {
    it("answers 401 unauthorized without a key, with a bad key and with another scheme", async () => {
      await errorOf(
        await h.call("POST", "/v1/payments", { key: null, body: validCreateBody() }),
        401,
        "unauthorized",
      );
      await errorOf(await h.call("GET", "/v1/payments/pay_x", { key: "sk_test_wrong" }), 401, "unauthorized");
      const basic = await h.call("GET", "/v1/payments/pay_x", {
        key: null,
        headers: { authorization: `Basic ${MERCHANTS.alpha.key}` },
      });
      await errorOf(basic, 401, "unauthorized");
    });

    it("needs no key for /healthz, /readyz, /metrics and /openapi.json", async () => {
      for (const path of ["/healthz", "/readyz", "/metrics", "/openapi.json"])
        expect((await fetch(`${h.url}${path}`)).status, path).to.equal(200);
    });
  });

  describe("creating a payment", () => {
    it("answers 202 with status created when no reply comes, and the sealed command is on PAY_CMD", async () => {
      const key = `order-${randomBytes(4).toString("hex")}`;
      const body = validCreateBody();
      const res = await h.call("POST", "/v1/payments", { idem: key, body });
      const text = await res.text();
      expect(res.status, text).to.equal(202);
      expect(text).not.to.include(PAN);
      const view = JSON.parse(text) as PaymentView;
      const paymentId = paymentIdFor(MERCHANTS.alpha.merchantId, key);
      expect(view).to.include({
        id: paymentId,
        object: "payment",
        status: "created",
        amount: 1250,
        currency: "EUR",
      });
      expect(view).to.include({ merchant_id: MERCHANTS.alpha.merchantId, capture: "automatic" });
      expect(view.card).to.deep.equal({
        brand: "visa",
        last4: "4242",
        bin_country: "US",
        exp_month: 12,
        exp_year: new Date().getUTCFullYear() + 3,
      });
      expect(view.metadata).to.deep.equal({ cart: "c-9" });

      const stored = await h.jsm.streams.getMessage(h.topo.commandStream, {
        last_by_subj: commandSubject(h.topo, MERCHANTS.alpha.merchantId, paymentId),
      });
      expect(stored, "command in PAY_CMD").to.not.equal(null);
      const raw = Buffer.from(stored!.data).toString("utf8");
      expect(raw).not.to.include(PAN);
      expect(raw).not.to.include('"123"');
      const envelope = CommandEnvelope.parse(decodeJson(stored!.data));
      expect(envelope.command.type).to.equal("CreatePayment");
      if (envelope.command.type !== "CreatePayment") return;
      expect(envelope.command).to.include({
        paymentId,
        merchantId: MERCHANTS.alpha.merchantId,
        amount: 1250,
      });
      expect(openCard(h.cardKey, envelope.sealedCard!, paymentId)).to.deep.include({
        number: PAN,
        cvc: "123",
      });

      // Keyed: neither fingerprint is a plain hash anyone could recompute from a guessed card.
      const keys = deriveFingerprintKeys(h.cardKey);
      const parsed = { ...body, capture: "automatic" };
      const sha = (s: string) => createHash("sha256").update(s).digest("hex");
      expect(envelope.command.requestFingerprint).to.equal(requestFingerprint(keys, parsed));
      expect(envelope.command.requestFingerprint).not.to.equal(sha(canonicalJson(parsed)));
      expect(envelope.command.card.fingerprint).not.to.equal(sha(PAN));
      const card = (
        body.payment_method as { card: { number: string; exp_month: number; exp_year: number; cvc: string } }
      ).card;
      expect(envelope.command.card).to.deep.equal(cardFactsOf(keys, card));
      expect(cardFactsOf(deriveFingerprintKeys(randomBytes(32)), card).fingerprint).not.to.equal(
        envelope.command.card.fingerprint,
      );
      expect(stored!.header.get(Header.traceparent)).to.equal(res.headers.get("traceparent"));
    });

    it("answers 202 with the stored state when the reply does not come but the payment has events", async () => {
      const key = randomBytes(6).toString("hex");
      const paymentId = paymentIdFor(MERCHANTS.alpha.merchantId, key);
      h.views.set(paymentId, viewOf(paymentId, MERCHANTS.alpha.merchantId, "authorizing"));
      const res = await h.call("POST", "/v1/payments", { idem: key, body: validCreateBody() });
      expect(res.status).to.equal(202);
      expect(((await res.json()) as PaymentView).status).to.equal("authorizing");
    });

    it("answers 201 with the settled payment, and 201 with the same body when the request is repeated", async () => {
      h.actor.respond = (env) => ({
        kind: "settled",
        payment: viewOf(env.command.paymentId, env.command.merchantId, "captured"),
      });
      const key = randomBytes(6).toString("hex");
      const first = await h.call("POST", "/v1/payments", { idem: key, body: validCreateBody() });
      const firstBody = await first.text();
      expect(first.status, firstBody).to.equal(201);
      const firstView = JSON.parse(firstBody) as PaymentView;
      expect(firstView.status).to.equal("captured");
      h.actor.respond = () => ({ kind: "settled", payment: firstView });
      const again = await h.call("POST", "/v1/payments", { idem: key, body: validCreateBody() });
      expect(again.status).to.equal(201);
      expect(await again.text()).to.equal(firstBody);
    });

    it("answers 202 for a pending reply and 422 for a reused Idempotency-Key", async () => {
      h.actor.respond = (env) => ({
        kind: "pending",
        payment: viewOf(env.command.paymentId, env.command.merchantId, "authorizing"),
      });
      expect((await h.call("POST", "/v1/payments", { body: validCreateBody() })).status).to.equal(202);
      h.actor.respond = () => ({
        kind: "rejected",
        rejection: {
          code: "idempotency_key_reused",
          message: "this Idempotency-Key was already used with a different request body",
        },
      });
      await errorOf(
        await h.call("POST", "/v1/payments", { body: validCreateBody() }),
        422,
        "idempotency_key_reused",
      );
    });
  });

  describe("reading and following up on payments", () => {
    it("answers 404 for an unknown payment and for another merchant's payment", async () => {
      const theirs = paymentIdFor(MERCHANTS.beta.merchantId, "k1");
      h.views.set(theirs, viewOf(theirs, MERCHANTS.beta.merchantId));
      await errorOf(
        await h.call("GET", "/v1/payments/pay_000000000000000000000000"),
        404,
        "payment_not_found",
      );
      await errorOf(await h.call("GET", `/v1/payments/${theirs}`), 404, "payment_not_found");
      const own = await h.call("GET", `/v1/payments/${theirs}`, { key: MERCHANTS.beta.key });
      expect(own.status).to.equal(200);
      expect(((await own.json()) as PaymentView).id).to.equal(theirs);
    });

    it("answers 404 to a follow-up the actor finds no payment of this merchant for", async () => {
      // Whose payment it is, the actor decides (it has the payment loaded): the gateway sends the
      // caller's merchant id, and the real actor's refusal is tested end to end (payments e2e).
      const theirs = paymentIdFor(MERCHANTS.beta.merchantId, randomBytes(4).toString("hex"));
      const seen: string[] = [];
      h.actor.respond = (env) => {
        seen.push((env.command as { merchantId?: string }).merchantId ?? "");
        return {
          kind: "rejected",
          rejection: { code: "payment_not_found", message: `no payment ${theirs}` },
        };
      };
      for (const op of ["capture", "cancel", "refunds"])
        await errorOf(
          await h.call("POST", `/v1/payments/${theirs}/${op}`, { body: {} }),
          404,
          "payment_not_found",
        );
      expect(seen).to.deep.equal([
        MERCHANTS.alpha.merchantId,
        MERCHANTS.alpha.merchantId,
        MERCHANTS.alpha.merchantId,
      ]);
    });

    it("captures with 200 on a settled reply, sending the derived operation id", async () => {
      const paymentId = paymentIdFor(MERCHANTS.alpha.merchantId, randomBytes(4).toString("hex"));
      h.views.set(paymentId, viewOf(paymentId, MERCHANTS.alpha.merchantId));
      const seen: CommandEnvelope[] = [];
      h.actor.respond = (env) => {
        seen.push(env);
        return {
          kind: "settled",
          payment: { ...viewOf(paymentId, MERCHANTS.alpha.merchantId, "captured"), captured_amount: 1000 },
        };
      };
      const res = await h.call("POST", `/v1/payments/${paymentId}/capture`, {
        idem: "cap-1",
        body: { amount: 1000 },
      });
      expect(res.status).to.equal(200);
      expect(((await res.json()) as PaymentView).captured_amount).to.equal(1000);
      expect(seen[0]?.command).to.include({
        type: "CapturePayment",
        operationId: operationIdFor(paymentId, "capture", "cap-1"),
        amount: 1000,
      });
    });

    it("cancels with an empty body, and maps an illegal transition to 409", async () => {
      const paymentId = paymentIdFor(MERCHANTS.alpha.merchantId, randomBytes(4).toString("hex"));
      h.views.set(paymentId, viewOf(paymentId, MERCHANTS.alpha.merchantId));
      h.actor.respond = () => ({
        kind: "settled",
        payment: viewOf(paymentId, MERCHANTS.alpha.merchantId, "canceled"),
      });
      const res = await h.call("POST", `/v1/payments/${paymentId}/cancel`, {
        headers: { "content-type": "application/json" },
      });
      expect(res.status, await res.clone().text()).to.equal(200);
      h.actor.respond = () => ({
        kind: "rejected",
        rejection: { code: "invalid_state_transition", message: "a canceled payment cannot be refunded" },
      });
      await errorOf(
        await h.call("POST", `/v1/payments/${paymentId}/refunds`, { body: { amount: 5 } }),
        409,
        "invalid_state_transition",
      );
    });

    it("answers 202 with the stored state when a follow-up's reply does not come", async () => {
      const paymentId = paymentIdFor(MERCHANTS.alpha.merchantId, randomBytes(4).toString("hex"));
      h.views.set(paymentId, viewOf(paymentId, MERCHANTS.alpha.merchantId, "capturing"));
      const res = await h.call("POST", `/v1/payments/${paymentId}/refunds`, { body: {} });
      expect(res.status).to.equal(202);
      expect(((await res.json()) as PaymentView).status).to.equal("capturing");
    });
  });

  describe("failures", () => {
    it("answers 500 internal_error without internals for a rejection code it does not know, and logs it", async () => {
      h.actor.respond = () => ({
        kind: "rejected",
        rejection: { code: "disk_on_fire", message: "secret internals" },
      });
      const err = await errorOf(
        await h.call("POST", "/v1/payments", { body: validCreateBody() }),
        500,
        "internal_error",
      );
      expect(JSON.stringify(err)).not.to.include("secret internals").and.not.include("disk_on_fire");
      expect(h.logs.some((l) => l.includes('"level":50') && l.includes("disk_on_fire"))).to.equal(true);
    });

    it("answers 500 internal_error when the worker's view lacks a field the response schema requires", async () => {
      h.actor.respond = (env) => {
        const { status: _dropped, ...view } = viewOf(env.command.paymentId, env.command.merchantId);
        return { kind: "settled", payment: view as PaymentView };
      };
      await errorOf(await h.call("POST", "/v1/payments", { body: validCreateBody() }), 500, "internal_error");
    });

    it("strips fields the response schema does not know from a view", async () => {
      h.actor.respond = (env) => ({
        kind: "settled",
        payment: {
          ...viewOf(env.command.paymentId, env.command.merchantId),
          internal_note: "x",
        } as PaymentView,
      });
      const res = await h.call("POST", "/v1/payments", { body: validCreateBody() });
      expect(res.status).to.equal(201);
      expect(await res.json()).not.to.have.property("internal_note");
    });

    it("answers 503 service_unavailable when payments cannot be read", async () => {
      const get = h.views.get.bind(h.views);
      h.views.get = () => {
        throw new Error("event store down");
      };
      try {
        await errorOf(
          await h.call("GET", "/v1/payments/pay_000000000000000000000002"),
          503,
          "service_unavailable",
        );
      } finally {
        h.views.get = get;
      }
    });
  });
});
