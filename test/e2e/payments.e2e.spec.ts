// The merchant API end to end: HTTP → gateway → JetStream → payment actor → PSP sandbox → events,
// all real. Each test card, the follow-ups, idempotency and tenant isolation.
import { expect } from "chai";
import { startTestPlatform, paymentBody, CARDS, type Api, type TestPlatform } from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";

describe("payments over HTTP (e2e)", function () {
  this.timeout(30_000);
  let platform: TestPlatform;
  let alpha: Api;
  let beta: Api;

  before(async () => {
    platform = await startTestPlatform();
    alpha = platform.api(platform.merchants[0]!);
    beta = platform.api(platform.merchants[1]!);
  });
  after(async () => platform.cleanup());

  const charges = (reference: string) => platform.sandbox!.charges({ reference });
  const unresolved = async () => (await platform.metrics.unresolvedEffects.get()).values[0]?.value ?? 0;

  describe("each test card", () => {
    it("authorizes a good card and holds the funds for a manual capture", async () => {
      const res = await alpha.post("/v1/payments", paymentBody());
      expect(res.status).to.equal(201);
      expect(res.body).to.include({
        status: "authorized",
        amount: 2500,
        currency: "EUR",
        captured_amount: 0,
      });
      expect(res.body.psp).to.equal("acme");
      expect(res.body.card).to.deep.include({ brand: "visa", last4: "4242" });
      expect(res.body.attempts).to.have.length(1);
      expect(JSON.stringify(res.body)).not.to.contain(CARDS.success);
      expect(charges(res.body.id)).to.have.length(1);
    });

    it("captures at once when capture is automatic", async () => {
      const res = await alpha.post("/v1/payments", paymentBody({ capture: "automatic" }));
      expect(res.status).to.equal(201);
      expect(res.body).to.include({ status: "captured", captured_amount: 2500 });
    });

    it("records a hard decline as a declined payment, not an HTTP error, without trying another PSP", async () => {
      const res = await alpha.post("/v1/payments", paymentBody({ number: CARDS.hardDecline }));
      expect(res.status).to.equal(201);
      expect(res.body).to.include({ status: "declined", decline_code: "insufficient_funds" });
      expect(res.body.attempts.map((a) => [a.psp, a.class])).to.deep.equal([["acme", "hard_decline"]]);
      expect(charges(res.body.id)).to.have.length(1);
    });

    it("cascades a soft decline to the next PSP and records both attempts", async () => {
      const res = await alpha.post("/v1/payments", paymentBody({ number: CARDS.softDecline }));
      expect(res.status).to.equal(201);
      expect(res.body).to.include({ status: "declined", decline_code: "card_declined" });
      expect(res.body.attempts.map((a) => [a.psp, a.status, a.class, a.trigger])).to.deep.equal([
        ["acme", "declined", "soft_decline", "routed"],
        ["bolt", "declined", "soft_decline", "cascade"],
      ]);
    });

    it("leaves a 3-D Secure card in requires_action with a redirect", async () => {
      const res = await alpha.post("/v1/payments", paymentBody({ number: CARDS.threeDS }));
      expect(res.status).to.equal(201);
      expect(res.body.status).to.equal("requires_action");
      expect(res.body.next_action?.url).to.be.a("string");
    });

    it("resolves a PSP timeout by asking for the status, and charges once", async () => {
      const res = await alpha.post("/v1/payments", paymentBody({ number: CARDS.slow }));
      expect(res.status).to.equal(201);
      expect(res.body.status).to.equal("authorized");
      expect(res.body.attempts).to.have.length(1);
      expect(charges(res.body.id)).to.have.length(1);
    });
  });

  describe("follow-ups", () => {
    async function authorized(amount = 2500): Promise<string> {
      const res = await alpha.post("/v1/payments", paymentBody({ amount }));
      expect(res.body.status).to.equal("authorized");
      return res.body.id;
    }

    it("captures the full amount", async () => {
      const id = await authorized();
      const res = await alpha.post(`/v1/payments/${id}/capture`, {});
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ status: "captured", captured_amount: 2500 });
      expect(charges(id)[0]).to.include({ capturedAmount: 2500 });
    });

    it("captures part of the amount, and refuses more than was authorized", async () => {
      const id = await authorized(1000);
      const tooMuch = await alpha.post(`/v1/payments/${id}/capture`, { amount: 1001 });
      expect(tooMuch.status).to.equal(422);
      expect(tooMuch.body.error.code).to.equal("amount_too_large");
      const res = await alpha.post(`/v1/payments/${id}/capture`, { amount: 600 });
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ status: "captured", captured_amount: 600 });
    });

    it("cancels an authorization, after which capture is an illegal transition", async () => {
      const id = await authorized();
      const res = await alpha.post(`/v1/payments/${id}/cancel`, {});
      expect(res.status).to.equal(200);
      expect(res.body.status).to.equal("canceled");
      const capture = await alpha.post(`/v1/payments/${id}/capture`, {});
      expect(capture.status).to.equal(409);
      expect(capture.body.error.code).to.equal("invalid_state_transition");
    });

    it("adds partial refunds up to a full refund and refuses to refund more", async () => {
      const id = await authorized(1000);
      await alpha.post(`/v1/payments/${id}/capture`, {});
      const first = await alpha.post(`/v1/payments/${id}/refunds`, { amount: 300 });
      expect(first.body).to.include({ status: "partially_refunded", refunded_amount: 300 });
      const over = await alpha.post(`/v1/payments/${id}/refunds`, { amount: 701 });
      expect(over.status).to.equal(422);
      const rest = await alpha.post(`/v1/payments/${id}/refunds`, { amount: 700 });
      expect(rest.body).to.include({ status: "refunded", refunded_amount: 1000 });
      expect(charges(id)[0]).to.include({ refundedAmount: 1000 });
    });

    it("refuses to refund an authorization that was never captured", async () => {
      const id = await authorized();
      const res = await alpha.post(`/v1/payments/${id}/refunds`, {});
      expect(res.status).to.equal(409);
    });

    it("answers GET with the same payment object", async () => {
      const id = await authorized();
      const res = await alpha.get(`/v1/payments/${id}`);
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ id, status: "authorized" });
    });
  });

  describe("idempotency", () => {
    it("answers a repeated create with the first result and charges once", async () => {
      const body = paymentBody();
      const first = await alpha.post("/v1/payments", body, "idem-seq-1");
      const second = await alpha.post("/v1/payments", body, "idem-seq-1");
      expect(second.status).to.equal(first.status);
      expect(second.body).to.deep.equal(first.body);
      expect(charges(first.body.id)).to.have.length(1);
    });

    it("creates one payment and one charge for concurrent identical requests", async () => {
      const body = paymentBody({ amount: 777 });
      const answers = await Promise.all(
        Array.from({ length: 8 }, () => alpha.post("/v1/payments", body, "idem-concurrent-1")),
      );
      const ids = new Set(answers.map((a) => a.body.id));
      expect(ids.size).to.equal(1);
      for (const a of answers) expect(a.body.status).to.equal("authorized");
      expect(charges([...ids][0]!)).to.have.length(1);
    });

    it("rejects the same key with a different body with 422", async () => {
      await alpha.post("/v1/payments", paymentBody({ amount: 100 }), "idem-reuse-1");
      const res = await alpha.post("/v1/payments", paymentBody({ amount: 200 }), "idem-reuse-1");
      expect(res.status).to.equal(422);
      expect(res.body.error.code).to.equal("idempotency_key_reused");
    });

    it("treats a repeated capture as one capture", async () => {
      const created = await alpha.post("/v1/payments", paymentBody({ amount: 900 }));
      const id = created.body.id;
      const a = await alpha.post(`/v1/payments/${id}/capture`, { amount: 400 }, "cap-1");
      const b = await alpha.post(`/v1/payments/${id}/capture`, { amount: 400 }, "cap-1");
      expect(a.body).to.include({ status: "captured", captured_amount: 400 });
      expect(b.body).to.deep.equal(a.body);
      const other = await alpha.post(`/v1/payments/${id}/capture`, { amount: 500 }, "cap-1");
      expect(other.status).to.equal(422);
    });

    it("answers repeats with their first result even after the payment moved on", async () => {
      const body = paymentBody({ amount: 1200 });
      const created = await alpha.post("/v1/payments", body, "idem-moved-1");
      const id = created.body.id;
      const captured = await alpha.post(`/v1/payments/${id}/capture`, { amount: 1200 }, "idem-moved-cap");
      const refunded = await alpha.post(`/v1/payments/${id}/refunds`, { amount: 200 }, "idem-moved-ref");
      expect(refunded.body).to.include({ status: "partially_refunded", refunded_amount: 200 });

      const createAgain = await alpha.post("/v1/payments", body, "idem-moved-1");
      expect(createAgain.status).to.equal(201);
      expect(createAgain.body).to.deep.equal(created.body);
      expect(createAgain.body).to.include({ status: "authorized", captured_amount: 0 });
      const captureAgain = await alpha.post(`/v1/payments/${id}/capture`, { amount: 1200 }, "idem-moved-cap");
      expect(captureAgain.body).to.deep.equal(captured.body);
      expect(captureAgain.body).to.include({ status: "captured", refunded_amount: 0 });

      const now = await alpha.get(`/v1/payments/${id}`);
      expect(now.body).to.include({ status: "partially_refunded", refunded_amount: 200 });
      expect(charges(id)).to.have.length(1);
    });

    it("keys payments per merchant: the same key from two merchants makes two payments", async () => {
      const a = await alpha.post("/v1/payments", paymentBody(), "shared-key");
      const b = await beta.post("/v1/payments", paymentBody(), "shared-key");
      expect(a.body.id).not.to.equal(b.body.id);
    });
  });

  describe("tenant isolation", () => {
    it("hides a payment from every other merchant", async () => {
      const created = await alpha.post("/v1/payments", paymentBody());
      const id = created.body.id;
      expect((await beta.get(`/v1/payments/${id}`)).status).to.equal(404);
      const events = (await platform.worker!.journal.history(id)).length;
      for (const op of ["capture", "cancel", "refunds"]) {
        const res = await beta.post(`/v1/payments/${id}/${op}`, {});
        expect([res.status, res.body.error?.code], op).to.deep.equal([404, "payment_not_found"]);
      }
      // The actor refused them: nothing was decided on alpha's payment.
      expect((await platform.worker!.journal.history(id)).length).to.equal(events);
      expect((await alpha.get(`/v1/payments/${id}`)).body.status).to.equal("authorized");
    });
  });

  describe("failover", () => {
    it("never fails over while a charge may exist: a lost answer stays pending until the same PSP can tell", async () => {
      // acme charges, then its answers are lost (HTTP 500): the outcome is unknown and the status
      // query cannot tell either. Moving to bolt now could charge the card twice.
      platform.sandbox!.setBehaviour("acme", { fault: "http_500" });
      let id: string;
      try {
        const res = await alpha.post("/v1/payments", paymentBody());
        expect(res.status).to.equal(202);
        expect(res.body.status).to.equal("authorizing");
        id = res.body.id;
        expect(res.body.attempts.map((a) => [a.psp, a.status])).to.deep.equal([["acme", "unknown"]]);
        expect(charges(id)).to.have.length(1);
        expect(await unresolved(), "payments waiting on a PSP").to.equal(1);
      } finally {
        platform.sandbox!.setBehaviour("acme", { fault: "none" });
      }
      // The command is redelivered with backoff; the status query now answers and settles it.
      const settled = await waitFor(
        async () => {
          const res = await alpha.get(`/v1/payments/${id}`);
          return res.body.status === "authorized" ? res.body : undefined;
        },
        { timeoutMs: 15_000, what: "the pending payment to be resolved by a status query" },
      );
      expect(settled.psp).to.equal("acme");
      expect(settled.attempts).to.have.length(1);
      expect(charges(id)).to.have.length(1);
      expect(await unresolved()).to.equal(0);
    });

    it("moves to the next PSP when the first one did not take the request", async () => {
      platform.sandbox!.setBehaviour("acme", { outage: true });
      try {
        const res = await alpha.post("/v1/payments", paymentBody());
        expect(res.body.status).to.equal("authorized");
        expect(res.body.psp).to.equal("bolt");
        expect(
          res.body.attempts.map((a: { psp: string; status: string }) => [a.psp, a.status]),
        ).to.deep.equal([
          ["acme", "failed"],
          ["bolt", "authorized"],
        ]);
        expect(charges(res.body.id)).to.have.length(1);
      } finally {
        platform.sandbox!.setBehaviour("acme", { outage: false });
      }
    });
  });
});
