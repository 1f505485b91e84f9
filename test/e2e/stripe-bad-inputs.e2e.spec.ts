// The Stripe layer's edge at the HTTP level, with raw form bodies: whatever arrives — bracket bombs,
// thousands of keys, duplicates, wrong types, NUL, broken UTF-8, a JSON body, an unknown URL, no key —
// is a 4xx in Stripe's error shape naming the parameter, never a 500; a concurrent request with the
// same Idempotency-Key is Stripe's 409; and no card number reaches the layer's buckets in clear.
import { expect } from "chai";
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import Stripe from "stripe";
import { stripeBucketNames } from "../../streams/topology.ts";
import { StripeStores } from "../../gateway/stripe/stores.ts";
import { NATS_URL } from "../support/infra.ts";
import { startTestPlatform, testEnv, type TestPlatform } from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";
import { sdkFor } from "../support/stripe-sdk.ts";

type StripeErrorBody = {
  error: { type: string; message: string; code?: string; param?: string; decline_code?: string };
};
type Raw = { status: number; body: StripeErrorBody & Record<string, unknown>; headers: Headers };

const SLOW_CARD = "4000000000000077";

describe("Stripe layer: bad inputs and concurrency (e2e)", function () {
  this.timeout(60_000);
  let p: TestPlatform;
  let key: string;

  before(async () => {
    p = await startTestPlatform({ env: testEnv() });
    key = p.merchants[0]!.key;
  });
  after(async () => {
    await p?.cleanup();
  });

  async function raw(
    method: string,
    path: string,
    body?: string | Uint8Array,
    headers: Record<string, string> = {},
  ): Promise<Raw> {
    const res = await fetch(`${p.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body !== undefined && { "content-type": "application/x-www-form-urlencoded" }),
        ...headers,
      },
      ...(body !== undefined && { body }),
    });
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text) as Raw["body"], headers: res.headers };
  }

  function stripeError(r: Raw, status: number, param?: string): StripeErrorBody["error"] {
    expect(r.status, JSON.stringify(r.body)).to.equal(status);
    expect(r.body.error.type).to.be.a("string");
    expect(r.body.error.message).to.be.a("string").and.not.be.empty;
    if (param !== undefined) expect(r.body.error.param).to.equal(param);
    return r.body.error;
  }

  const create = (form: string | Uint8Array, headers: Record<string, string> = {}) =>
    raw("POST", "/v1/payment_intents", form, headers);

  it("refuses a missing or wrong key with Stripe's 401 (the SDK's StripeAuthenticationError)", async () => {
    const none = await fetch(`${p.url}/v1/payment_intents`, { method: "GET" });
    expect(none.status).to.equal(401);
    const body = (await none.json()) as StripeErrorBody;
    expect(body.error.type).to.equal("invalid_request_error");
    const err = await sdkFor(p.url, "sk_test_nope")
      .paymentIntents.create({ amount: 100, currency: "eur" })
      .catch((e: unknown) => e);
    expect(err).to.be.instanceOf(Stripe.errors.StripeAuthenticationError);
  });

  it("answers an unmapped URL with Stripe's unrecognized request URL error", async () => {
    const r = await raw("GET", "/v1/customers");
    expect(stripeError(r, 404).message).to.match(/^Unrecognized request URL \(GET: \/v1\/customers\)/);
    expect(r.body.error.type).to.equal("invalid_request_error");
    const err = await sdkFor(p.url, key)
      .customers.create({ email: "a@example.com" })
      .catch((e: unknown) => e);
    expect(err).to.be.instanceOf(Stripe.errors.StripeInvalidRequestError);
  });

  it("refuses a JSON body on a Stripe route", async () => {
    const r = await raw("POST", "/v1/payment_intents", JSON.stringify({ amount: 100, currency: "eur" }), {
      "content-type": "application/json",
    });
    expect(stripeError(r, 400).type).to.equal("invalid_request_error");
  });

  it("refuses bracket bombs, too many keys, duplicates and conflicts, naming the parameter", async () => {
    stripeError(await create(`amount=100&currency=eur&metadata${"[a]".repeat(6)}=1`), 400, "metadata");
    const longKey = await create(`amount=100&currency=eur&a${"[b]".repeat(5000)}=1`);
    expect(longKey.status).to.equal(400);
    const many = Array.from({ length: 1000 }, (_, i) => `m${i}=1`).join("&");
    expect(stripeError(await create(many), 400).message).to.match(/Too many parameters/);
    const huge = Array.from({ length: 10_000 }, (_, i) => `metadata[k${i}]=v`).join("&");
    const tooBig = await create(huge);
    expect(tooBig.status).to.be.oneOf([400, 413]);
    expect(tooBig.body.error.type).to.equal("invalid_request_error");
    stripeError(await create("amount=100&amount=200&currency=eur"), 400, "amount");
    stripeError(await create("amount=100&currency=eur&metadata=x&metadata[a]=1"), 400, "metadata[a]");
  });

  it("refuses wrong types and unknown parameters as Stripe does", async () => {
    expect(stripeError(await create("amount=abc&currency=eur"), 400, "amount").code).to.equal(
      "parameter_invalid",
    );
    stripeError(await create("amount[x]=1&currency=eur"), 400, "amount");
    stripeError(await create("amount=-5&currency=eur"), 400, "amount");
    stripeError(await create("amount=100&currency=zzz"), 400, "currency");
    stripeError(await create("amount=100&currency=eur&confirm=yes"), 400, "confirm");
    stripeError(await create("amount=100&currency=eur&capture_method=later"), 400, "capture_method");
    expect(stripeError(await create("currency=eur"), 400, "amount").code).to.equal("parameter_missing");
    const unknown = stripeError(await create("amount=100&currency=eur&foo=1"), 400, "foo");
    expect(unknown.message).to.equal("Received unknown parameter: foo");
    stripeError(await create("amount=100&currency=eur&payment_method=pm_nope"), 400, "payment_method");
  });

  it("refuses NUL, broken UTF-8, a card number in free text and a bad Stripe-Version", async () => {
    stripeError(await create("amount=100&currency=eur&description=a%00b"), 400);
    stripeError(await create("amount=100&currency=eur&metadata[a%00]=1"), 400);
    // A lone surrogate can only arrive percent-encoded, as bytes that are not UTF-8.
    stripeError(await create("amount=100&currency=eur&description=%ED%A0%80"), 400);
    stripeError(await create("amount=100&currency=eur&description=%E0%A4%A"), 400);
    // Raw bytes that are not UTF-8 (Latin-1 "café"): read as U+FFFD before, and stored so.
    const latin1 = Buffer.concat([
      Buffer.from("amount=100&currency=eur&description=caf"),
      Buffer.from([0xe9]),
    ]);
    expect(stripeError(await create(latin1), 400).message).to.match(/not UTF-8/);
    const card = await create("amount=100&currency=eur&metadata[note]=4242424242424242");
    expect(stripeError(card, 400, "metadata[note]").message).not.to.include("4242424242424242");
    stripeError(await create("amount=100&currency=eur", { "stripe-version": "yesterday" }), 400);
    stripeError(await create("amount=100&currency=eur", { "idempotency-key": "k".repeat(300) }), 400);
    const ok = await create("amount=100&currency=eur", { "stripe-version": "2024-06-20" });
    expect(ok.status).to.equal(200);
    expect(ok.headers.get("stripe-version")).to.equal("2024-06-20");
  });

  it("refuses a webhook endpoint format that does not exist (native API, its own error shape)", async () => {
    const r = await p.api(p.merchants[0]!).post("/v1/webhook_endpoints", {
      url: "https://hooks.example.com/x",
      enabled_events: ["*"],
      format: "soap",
    });
    expect(r.status).to.equal(400);
    expect(r.body.error.code).to.equal("validation_error");
  });

  it("refuses unknown ids and operations in the wrong state", async () => {
    expect(stripeError(await raw("GET", "/v1/payment_intents/pi_nope"), 404).code).to.equal(
      "resource_missing",
    );
    expect(stripeError(await raw("GET", "/v1/refunds/re_nope"), 404).code).to.equal("resource_missing");
    stripeError(await raw("GET", "/v1/refunds"), 400, "payment_intent");
    const open = await create("amount=100&currency=eur");
    const id = String(open.body.id);
    expect(stripeError(await raw("POST", `/v1/payment_intents/${id}/confirm`, ""), 400).code).to.equal(
      "payment_intent_unexpected_state",
    );
    const held = await create(
      "amount=100&currency=eur&capture_method=manual&payment_method=pm_card_visa&confirm=true",
    );
    expect(held.body.status).to.equal("requires_capture");
    const over = await raw(
      "POST",
      `/v1/payment_intents/${String(held.body.id)}/capture`,
      "amount_to_capture=500",
    );
    expect(stripeError(over, 400).code).to.equal("amount_too_large");
  });

  it("charges once when one intent is confirmed many times at once, each with its own key", async () => {
    const open = await create("amount=4200&currency=eur&payment_method=pm_card_visa");
    const id = String(open.body.id);
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        raw("POST", `/v1/payment_intents/${id}/confirm`, "", { "idempotency-key": `confirm-${id}-${i}` }),
      ),
    );
    for (const a of answers) {
      expect([200, 400, 409], JSON.stringify(a.body)).to.include(a.status);
      if (a.status === 200) expect(a.body.id).to.equal(id);
      else expect(a.body.error.code).to.be.oneOf(["payment_intent_unexpected_state", "lock_timeout"]);
    }
    expect(answers.filter((a) => a.status === 200)).to.have.length.greaterThan(0);
    const paymentId = `pay_${id.slice(3)}`;
    const native = await waitFor(
      async () => {
        const r = await p.api(p.merchants[0]!).get(`/v1/payments/${paymentId}`);
        return r.body.status === "captured" ? r : undefined;
      },
      { timeoutMs: 10_000, what: "the payment captured" },
    );
    // One authorization at one PSP: one charge.
    expect(native.body.attempts.filter((a) => a.status === "authorized")).to.have.length(1);
    expect(native.body.captured_amount).to.equal(4200);
  });

  it("answers a concurrent request with the same key 409, then replays; no PAN in the buckets", async () => {
    const idem = `concurrent-${Date.now()}`;
    const form =
      "amount=1500&currency=eur&confirm=true&payment_method_data[type]=card" +
      `&payment_method_data[card][number]=${SLOW_CARD}&payment_method_data[card][exp_month]=12` +
      "&payment_method_data[card][exp_year]=2034&payment_method_data[card][cvc]=123";
    const first = create(form, { "idempotency-key": idem });
    // The first request's claim is in the bucket while its payment is still with the slow issuer.
    const nc = await connect({ servers: NATS_URL });
    try {
      const names = stripeBucketNames(p.env.SWITCHYARD_PREFIX ?? "");
      const kvm = new Kvm(jetstream(nc));
      const idemKv = await kvm.open(names.idempotency);
      const claimKey = StripeStores.idemKey(p.merchants[0]!.merchantId, idem);
      await waitFor(async () => (await idemKv.get(claimKey))?.string().includes('"pending"'), {
        timeoutMs: 5_000,
        what: "the first request's claim",
      });
      const second = await create(form, { "idempotency-key": idem });
      expect(stripeError(second, 409).type).to.equal("idempotency_error");
      const firstDone = await first;
      expect(firstDone.status, JSON.stringify(firstDone.body)).to.equal(200);
      const third = await create(form, { "idempotency-key": idem });
      expect(third.headers.get("idempotent-replayed")).to.equal("true");
      expect(third.body).to.deep.equal(firstDone.body);
      // Neither bucket holds the card number.
      for (const name of [names.idempotency, names.intents]) {
        const kv = await kvm.open(name);
        for await (const k of await kv.keys()) {
          const v = (await kv.get(k))?.string() ?? "";
          expect(v).not.to.include(SLOW_CARD);
        }
      }
    } finally {
      await nc.close();
    }
  });

  it("refuses a query parameter that does not percent-decode with Stripe's 400, naming it", async () => {
    for (const path of ["/v1/payment_intents?limit=%ZZ", "/v1/refunds?payment_intent=pi_caf%E9"]) {
      const err = stripeError(await raw("GET", path), 400);
      expect([err.type, err.code], path).to.deep.equal(["invalid_request_error", "malformed_request"]);
      expect(err.param, path).to.equal(path.includes("limit") ? "limit" : "payment_intent");
    }
  });
});
