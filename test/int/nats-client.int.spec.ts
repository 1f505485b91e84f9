// switchyard/client against the real platform: a card token over HTTP (POST /v1/card-tokens and its
// bad inputs), then create → capture → refund over NATS with the typed results and errors the HTTP
// API gives; idempotency across retries; a wait that runs out.
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { SwitchyardClient, SwitchyardError } from "../../streams/client/index.ts";
import { connect } from "@nats-io/transport-node";
import { capturingLogger } from "../support/log-capture.ts";
import { cardToken } from "../support/nats-client.ts";
import { NATS_URL } from "../support/infra.ts";
import { rawRequest } from "../support/raw-http.ts";
import { startTestPlatform, untilPayment, type TestPlatform } from "../support/platform.ts";

const PAN = "4242424242424242";

async function rejects(p: Promise<unknown>): Promise<SwitchyardError> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(SwitchyardError);
    return err as SwitchyardError;
  }
  throw new Error("expected a SwitchyardError");
}

describe("switchyard/client and card tokens (real NATS, worker and gateway)", function () {
  this.timeout(60_000);
  let p: TestPlatform;
  let client: SwitchyardClient;
  const captured = capturingLogger("debug");
  const key = () => randomBytes(8).toString("hex");
  const year = new Date().getUTCFullYear();

  before(async () => {
    p = await startTestPlatform({ log: captured.log });
    client = await SwitchyardClient.connect({
      servers: NATS_URL,
      prefix: p.env.SWITCHYARD_PREFIX!,
      partitions: Number(p.env.SWITCHYARD_PARTITIONS),
      merchantId: "m_alpha",
    });
  });
  after(async () => {
    await client?.close();
    await p?.cleanup();
  });

  describe("POST /v1/card-tokens", () => {
    it("answers 201 with a token that holds no card number, the card's facts, no-store, and the same fingerprint for the same card", async () => {
      const res = await p.api(p.merchants[0]!).post("/v1/card-tokens", {
        card: { number: PAN, exp_month: 12, exp_year: year + 3, cvc: "123" },
      });
      expect(res.status).to.equal(201);
      expect(res.headers.get("cache-control")).to.equal("no-store");
      const t = res.body as unknown as {
        id: string;
        object: string;
        token: string;
        card: Record<string, unknown>;
        expires_at: string;
      };
      expect(t.object).to.equal("card_token");
      expect(t.id).to.match(/^ctok_[0-9a-f]{24}$/);
      expect(t.token).to.match(/^ct1\./);
      expect(JSON.stringify(t)).not.to.include(PAN);
      expect(Buffer.from(t.token.split(".")[1]!, "base64url").toString()).not.to.include(PAN);
      expect(t.card).to.include({
        brand: "visa",
        last4: "4242",
        bin_country: "US",
        exp_month: 12,
        exp_year: year + 3,
      });
      const ttl = Date.parse(t.expires_at) - Date.now();
      expect(ttl).to.be.within(14 * 60_000, 15 * 60_000 + 1000);
      const again = await cardToken(p, p.merchants[0]!);
      expect(again.token).not.to.equal(t.token);
      expect(again.card.fingerprint).to.equal(t.card.fingerprint);
    });

    it("refuses bad cards and bad bodies with a 4xx and a code, never echoing the number", async () => {
      const card = { number: PAN, exp_month: 12, exp_year: year + 3, cvc: "123" };
      const cases: Array<[string, unknown, number, string]> = [
        ["no card", {}, 400, "validation_error"],
        ["card null", { card: null }, 400, "validation_error"],
        ["body null", null, 400, "validation_error"],
        ["body an array", [card], 400, "validation_error"],
        ["number as a number", { card: { ...card, number: 4242424242424242 } }, 400, "validation_error"],
        ["number with spaces", { card: { ...card, number: "4242 4242 4242 4242" } }, 400, "validation_error"],
        ["number failing Luhn", { card: { ...card, number: "4242424242424241" } }, 400, "validation_error"],
        ["number too short", { card: { ...card, number: "42424242424" } }, 400, "validation_error"],
        ["number too long", { card: { ...card, number: "42424242424242424242" } }, 400, "validation_error"],
        ["number empty", { card: { ...card, number: "" } }, 400, "validation_error"],
        ["exp_month 13", { card: { ...card, exp_month: 13 } }, 400, "validation_error"],
        ["exp_month 1.5", { card: { ...card, exp_month: 1.5 } }, 400, "validation_error"],
        ["exp_year a string", { card: { ...card, exp_year: String(year + 3) } }, 400, "validation_error"],
        ["expired card", { card: { ...card, exp_year: year - 1 } }, 400, "validation_error"],
        ["cvc too short", { card: { ...card, cvc: "12" } }, 400, "validation_error"],
        ["cvc with a NUL", { card: { ...card, cvc: "12\u0000" } }, 400, "invalid_characters"],
        ["cvc a lone surrogate", { card: { ...card, cvc: "\ud800" } }, 400, "invalid_characters"],
        ["an unknown field", { card, extra: "x" }, 400, "validation_error"],
        ["a card number elsewhere", { card: { ...card, name: PAN } }, 400, "card_number_in_free_text"],
        ["a card number as a key", { card, [PAN]: "x" }, 400, "card_number_in_free_text"],
        ["a payment's card path", { payment_method: { card } }, 400, "card_number_in_free_text"],
        ["a body past the limit", { card, pad: "x".repeat(70 * 1024) }, 413, "payload_too_large"],
      ];
      let deep: unknown = card;
      for (let i = 0; i < 40; i++) deep = { card: deep };
      cases.push(["nested 40 deep", deep, 400, "nesting_too_deep"]);
      for (const [what, body, status, code] of cases) {
        const res = await p.api(p.merchants[0]!).post("/v1/card-tokens", body);
        expect(res.status, what).to.equal(status);
        expect(res.body.error.code, what).to.equal(code);
        expect(JSON.stringify(res.body), what).not.to.include(PAN);
      }
      const noKey = await fetch(`${p.url}/v1/card-tokens`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ card }),
      });
      expect(noKey.status).to.equal(401);
      const noIdempotencyKey = await fetch(`${p.url}/v1/card-tokens`, {
        method: "POST",
        headers: { authorization: `Bearer ${p.merchants[0]!.key}`, "content-type": "application/json" },
        body: JSON.stringify({ card }),
      });
      expect(noIdempotencyKey.status).to.equal(400);
      expect(((await noIdempotencyKey.json()) as { error: { code: string } }).error.code).to.equal(
        "idempotency_key_missing",
      );
    });

    it("answers 400 to a body that is not JSON or not UTF-8 JSON (repeated keys: bad-inputs-ambiguous)", async () => {
      const host = new URL(p.url).host;
      const send = (body: string | Buffer) =>
        rawRequest(
          p.url,
          `POST /v1/card-tokens HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${p.merchants[0]!.key}\r\n` +
            `Idempotency-Key: ${key()}\r\nContent-Type: application/json\r\n` +
            `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close`,
          body,
        );
      expect((await send("{")).status).to.equal(400);
      const latin1 = await send(Buffer.from([0x7b, 0x22, 0xe9, 0x22, 0x3a, 0x31, 0x7d]));
      expect(latin1.status).to.be.within(400, 499);
    });
  });

  describe("SwitchyardClient", () => {
    it("creates, captures and refunds a payment with a card token, answering the payment as HTTP does", async () => {
      const t = await cardToken(p, p.merchants[0]!);
      const k = key();
      const created = await client.createPayment({
        idempotencyKey: k,
        amount: 5000,
        currency: "EUR",
        capture: "manual",
        cardToken: t.token,
        reference: "order-7",
        metadata: { cart: "c-1" },
      });
      expect(created.status).to.equal("settled");
      expect(created.paymentId).to.equal(client.paymentIdFor(k));
      expect(created.payment).to.include({
        status: "authorized",
        amount: 5000,
        merchant_id: "m_alpha",
        reference: "order-7",
      });
      expect(created.payment?.card).to.include({ last4: "4242", brand: "visa" });
      const captured = await client.capture(created.paymentId, { idempotencyKey: key() });
      expect(captured.payment).to.include({ status: "captured", captured_amount: 5000 });
      const refunded = await client.refund(created.paymentId, { idempotencyKey: key(), amount: 1500 });
      expect(refunded.payment).to.include({ status: "partially_refunded", refunded_amount: 1500 });
      // The HTTP API sees the same payment.
      const http = await p.api(p.merchants[0]!).get(`/v1/payments/${created.paymentId}`);
      expect(http.body).to.include({ status: "partially_refunded", refunded_amount: 1500 });
    });

    it("answers a repeated create with its first result, even with a fresh token for the same card, and refuses the key with another body", async () => {
      const k = key();
      const input = { idempotencyKey: k, amount: 700, currency: "EUR", capture: "manual" as const };
      const first = await client.createPayment({
        ...input,
        cardToken: (await cardToken(p, p.merchants[0]!)).token,
      });
      const again = await client.createPayment({
        ...input,
        cardToken: (await cardToken(p, p.merchants[0]!)).token,
      });
      expect(again.paymentId).to.equal(first.paymentId);
      expect(again.payment?.created_at).to.equal(first.payment?.created_at);
      const other = await rejects(
        client.createPayment({
          ...input,
          amount: 701,
          cardToken: (await cardToken(p, p.merchants[0]!)).token,
        }),
      );
      expect(other.code).to.equal("idempotency_key_reused");
      const otherCard = await rejects(
        client.createPayment({
          ...input,
          cardToken: (await cardToken(p, p.merchants[0]!, "5555555555554444")).token,
        }),
      );
      expect(otherCard.code).to.equal("idempotency_key_reused");
    });

    it("publishes on its merchant's subject with a message id from the key, the given traceparent and its own inbox; a repeat is stored once, then asked again", async () => {
      const seen: Array<{ subject: string; msgId?: string; traceparent?: string; replyTo?: string }> = [];
      const nc = await connect({ servers: NATS_URL });
      const sub = nc.subscribe(`${p.env.SWITCHYARD_PREFIX}.pay.cmd.>`, {
        callback: (_e, m) => {
          seen.push({
            subject: m.subject,
            msgId: m.headers?.get("Nats-Msg-Id"),
            traceparent: m.headers?.get("traceparent"),
            replyTo: m.headers?.get("Sy-Reply-To"),
          });
        },
      });
      await nc.flush();
      const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
      const input = {
        idempotencyKey: key(),
        amount: 400,
        currency: "EUR",
        capture: "manual" as const,
        cardToken: (await cardToken(p, p.merchants[0]!)).token,
      };
      const first = await client.createPayment(input, { traceparent });
      const again = await client.createPayment(input);
      await nc.flush();
      sub.unsubscribe();
      await nc.close();
      const mine = seen.filter((x) => x.subject.endsWith(`.m_alpha.${first.paymentId}`));
      expect(mine.map((x) => x.msgId)).to.deep.equal([
        `client:${first.paymentId}`,
        `client:${first.paymentId}`,
        mine[2]?.msgId,
      ]);
      expect(mine[2]?.msgId).to.match(new RegExp(`^client:${first.paymentId}:[0-9a-f]{12}$`));
      expect(mine[0]?.traceparent).to.equal(traceparent);
      expect(mine[1]?.traceparent).to.match(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(mine[0]?.replyTo?.startsWith(`${p.env.SWITCHYARD_PREFIX}.pay.reply.m_alpha.`)).to.equal(true);
      expect(again.payment?.id).to.equal(first.payment?.id);
    });

    it("answers the typed errors of the HTTP API: an unknown payment, an illegal transition", async () => {
      const missing = await rejects(
        client.capture("pay_000000000000000000000000", { idempotencyKey: key() }),
      );
      expect(missing.code).to.equal("payment_not_found");
      const t = await cardToken(p, p.merchants[0]!);
      const auto = await client.createPayment({
        idempotencyKey: key(),
        amount: 900,
        currency: "EUR",
        cardToken: t.token,
      });
      expect(auto.payment?.status).to.equal("captured");
      const cancel = await rejects(client.cancel(auto.paymentId, { idempotencyKey: key() }));
      expect(cancel.code).to.equal("invalid_state_transition");
    });

    it("returns pending with no payment when the wait runs out, and the command is still handled", async () => {
      const t = await cardToken(p, p.merchants[0]!);
      const r = await client.createPayment(
        { idempotencyKey: key(), amount: 300, currency: "EUR", capture: "manual", cardToken: t.token },
        { timeoutMs: 0 },
      );
      expect(r).to.deep.equal({ status: "pending", paymentId: r.paymentId, payment: null });
      await untilPayment(
        p.api(p.merchants[0]!),
        r.paymentId,
        "the payment",
        (v) => v.status === "authorized",
      );
    });

    it("refuses bad input before publishing, with the HTTP API's codes", async () => {
      const t = (await cardToken(p, p.merchants[0]!)).token;
      const base = { idempotencyKey: key(), amount: 100, currency: "EUR", cardToken: t };
      const cases: Array<[string, Promise<unknown>, string]> = [
        ["no key", client.createPayment({ ...base, idempotencyKey: "" }), "idempotency_key_missing"],
        [
          "a key with a newline",
          client.createPayment({ ...base, idempotencyKey: "a\nb" }),
          "validation_error",
        ],
        ["amount a string", client.createPayment({ ...base, amount: "100" as never }), "validation_error"],
        ["amount negative", client.createPayment({ ...base, amount: -1 }), "validation_error"],
        ["amount fractional", client.createPayment({ ...base, amount: 1.5 }), "validation_error"],
        [
          "amount past the safe range",
          client.createPayment({ ...base, amount: 2 ** 60 }),
          "validation_error",
        ],
        ["currency lowercase", client.createPayment({ ...base, currency: "eur" }), "validation_error"],
        ["capture unknown", client.createPayment({ ...base, capture: "later" as never }), "validation_error"],
        [
          "reference with a NUL",
          client.createPayment({ ...base, reference: "a\u0000" }),
          "invalid_characters",
        ],
        [
          "reference a lone surrogate",
          client.createPayment({ ...base, reference: "\udc00" }),
          "invalid_characters",
        ],
        [
          "reference too long",
          client.createPayment({ ...base, reference: "r".repeat(257) }),
          "validation_error",
        ],
        [
          "reference holding a card",
          client.createPayment({ ...base, reference: `x ${PAN}` }),
          "card_number_in_free_text",
        ],
        [
          "metadata too many keys",
          client.createPayment({
            ...base,
            metadata: Object.fromEntries([...Array(21).keys()].map((i) => [`k${i}`, "v"])),
          }),
          "validation_error",
        ],
        [
          "metadata a number",
          client.createPayment({ ...base, metadata: { a: 1 as never } }),
          "validation_error",
        ],
        [
          "no card token",
          client.createPayment({ ...base, cardToken: undefined as never }),
          "validation_error",
        ],
        ["a card number as token", client.createPayment({ ...base, cardToken: PAN }), "card_token_invalid"],
        [
          "a forged token",
          client.createPayment({ ...base, cardToken: "ct1.eyJhIjoxfQ.v2.x.y" }),
          "card_token_invalid",
        ],
        [
          "a token too long",
          client.createPayment({ ...base, cardToken: `ct1.${"A".repeat(5000)}.x` }),
          "card_token_invalid",
        ],
        ["a capture of a non-id", client.capture("pay.x.>", { idempotencyKey: key() }), "validation_error"],
        [
          "a refund of zero",
          client.refund("pay_000000000000000000000000", { idempotencyKey: key(), amount: 0 }),
          "validation_error",
        ],
      ];
      for (const [what, call, code] of cases) {
        const err = await rejects(call).catch((e: Error) => {
          throw new Error(`${what}: ${e.message}`);
        });
        expect(err.code, `${what}: ${err.message}`).to.equal(code);
        expect(err.message, what).not.to.include(PAN);
      }
      for (const bad of [
        { merchantId: "m.alpha" },
        { merchantId: "" },
        { partitions: 0 },
        { partitions: 1.5 },
        { prefix: "a.b" },
        { inboxPrefix: `${p.env.SWITCHYARD_PREFIX}.pay.reply.m_beta.x` },
        { inboxPrefix: "_INBOX.x" },
      ]) {
        const err = await rejects(
          SwitchyardClient.connect({
            servers: NATS_URL,
            prefix: p.env.SWITCHYARD_PREFIX!,
            partitions: 4,
            merchantId: "m_alpha",
            ...bad,
          }),
        );
        expect(err.code, JSON.stringify(bad)).to.equal("validation_error");
      }
    });

    it("never logs the card number of a token's card", () => {
      expect(captured.lines.join("").replace(/[ -]/g, "")).not.to.include(PAN);
    });
  });
});
