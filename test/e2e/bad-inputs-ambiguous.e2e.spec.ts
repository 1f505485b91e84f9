// Requests that could be read two ways, refused instead of read one way. Bodies that repeat a key in
// one object, on every endpoint that takes a JSON body (read from the platform's own /openapi.json):
// JSON.parse keeps the last `"amount"`, a proxy or fraud screen on the way may have read the first,
// so such a body is refused 400 `duplicate_key` naming the key's path — never a card number — and
// nothing of it is stored; the same key in two different objects is fine. Bodies whose bytes are not
// UTF-8 (they were read as U+FFFD and stored so). A status filter that is no status (answered an
// empty list, as if the merchant had no such payments); a query value that does not percent-decode
// (taken as its literal characters: `?reference=caf%E9` searched for "caf%E9").
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import { paymentIdFor } from "../../actors/payment/core/ids.ts";
import {
  endpointRequests,
  isPspDoor,
  readEnvelope,
  startBadInputsPlatform,
  type BadInputsPlatform,
  type Endpoint,
} from "../support/documented-endpoints.ts";
import type { TestPlatform } from "../support/platform.ts";

const CARD =
  '{"type":"card","card":{"number":"4242424242424242","exp_month":12,"exp_year":2030,"cvc":"123"}}';

describe("requests that could be read two ways: repeated keys, bytes not UTF-8, unknown statuses (e2e)", function () {
  this.timeout(120_000);
  let p: TestPlatform;
  let endpoints: Endpoint[];
  let merchantKey: string;
  let logs: BadInputsPlatform["logs"];

  before(async () => {
    ({ p, endpoints, merchantKey, logs } = await startBadInputsPlatform());
  });
  after(async () => {
    await p?.cleanup();
  });

  const { send } = endpointRequests(() => ({ url: p.url, merchantKey }));
  const createPayment = () => endpoints.find((x) => x.method === "POST" && x.template === "/v1/payments")!;

  async function refused(e: Endpoint, res: Response, path: string) {
    const got = await readEnvelope(res);
    const what = `${e.method} ${e.template}`;
    expect(got.status, `${what}: ${got.code}`).to.equal(400);
    expect(got.code, what).to.equal("duplicate_key");
    expect(got.issues[0]?.path, what).to.equal(path);
    expect(got.issues[0]?.code, what).to.equal("duplicate_key");
  }

  it("refuses a repeated key on every endpoint that takes a JSON body, at the top and nested, escaped or not", async () => {
    const bodied = endpoints.filter((x) => (x.method === "POST" || x.method === "PUT") && !isPspDoor(x));
    expect(bodied.length).to.be.above(10);
    for (const e of bodied) {
      await refused(e, await send(e, { body: '{"note":1,"note":2}' }), "note");
      await refused(e, await send(e, { body: '{"a":{"b":1,"\\u0062":2}}' }), "a.b");
      await refused(e, await send(e, { body: '{"l":[{},{"x":1,"x":1}]}' }), "l.1.x");
    }
  });

  it("stores nothing of a payment whose amount, currency or metadata key comes twice, and counts each refusal", async () => {
    const cases: Array<[string, string]> = [
      [`{"amount":100,"currency":"EUR","payment_method":${CARD},"amount":1000000}`, "amount"],
      [`{"amount":100,"\\u0061mount":1000000,"currency":"EUR","payment_method":${CARD}}`, "amount"],
      [`{"amount":100,"currency":"EUR","currency":"SEK","payment_method":${CARD}}`, "currency"],
      [`{"amount":100,"currency":"EUR","payment_method":${CARD},"metadata":{"o":"1","o":"2"}}`, "metadata.o"],
      [
        `{"amount":100,"currency":"EUR","payment_method":{"type":"card","type":"card"}}`,
        "payment_method.type",
      ],
    ];
    const e = createPayment();
    for (const [body, path] of cases) {
      const key = randomBytes(8).toString("hex");
      await refused(e, await send(e, { body, headers: { "idempotency-key": key } }), path);
      const id = paymentIdFor(p.merchants[0]!.merchantId, key);
      expect(await p.worker!.journal.history(id), `${path}: events of ${id}`).to.deep.equal([]);
    }
    const metrics = await (await fetch(`${p.url}/metrics`)).text();
    const counted = /switchyard_inputs_refused_total\{edge="http",code="duplicate_key"\} (\d+)/.exec(metrics);
    expect(Number(counted?.[1])).to.be.at.least(cases.length);
  });

  it("refuses a card token request with two card numbers, echoing neither", async () => {
    const e = endpoints.find((x) => x.method === "POST" && x.template === "/v1/card-tokens")!;
    const res = await send(e, {
      body: '{"card":{"number":"4000000000000002","number":"4242424242424242","exp_month":12,"exp_year":2030,"cvc":"123"}}',
    });
    const text = await res.clone().text();
    await refused(e, res, "card.number");
    expect(text).not.to.include("4242424242424242").and.not.to.include("4000000000000002");
  });

  it("names a repeated key that looks like a card number [key], and neither answers nor logs it", async () => {
    const e = createPayment();
    const pan = "4000056655665556";
    const res = await send(e, {
      body: `{"amount":100,"currency":"EUR","payment_method":${CARD},"metadata":{"${pan}":"a","${pan}":"b"}}`,
    });
    const text = await res.clone().text();
    await refused(e, res, "metadata.[key]");
    expect(text).not.to.include(pan);
    expect(logs.lines.filter((l) => l.includes(pan))).to.deep.equal([]);
  });

  it("takes the same key in different objects: a payment whose metadata has a `type` and an `amount`", async () => {
    const e = createPayment();
    const res = await send(e, {
      body: `{"amount":100,"currency":"EUR","payment_method":${CARD},"metadata":{"type":"x","amount":"1"}}`,
    });
    expect(res.status, await res.clone().text()).to.equal(201);
    const payment = (await res.json()) as { amount: number; metadata: Record<string, string> };
    expect(payment.amount).to.equal(100);
    expect(payment.metadata).to.deep.equal({ type: "x", amount: "1" });
  });

  it("refuses a body that is not UTF-8 on every JSON endpoint, and stores nothing of such a payment", async () => {
    const latin1 = (json: string) => Buffer.from(json, "latin1"); // "é" as the one byte 0xE9
    const bodied = endpoints.filter((x) => (x.method === "POST" || x.method === "PUT") && !isPspDoor(x));
    for (const e of bodied) {
      const got = await readEnvelope(await send(e, { body: latin1('{"note":"café"}') }));
      expect(got.status, `${e.method} ${e.template}`).to.equal(400);
      expect(got.code, `${e.method} ${e.template}`).to.equal("invalid_json");
    }
    const e = createPayment();
    const key = randomBytes(8).toString("hex");
    const body = latin1(`{"amount":100,"currency":"EUR","reference":"café","payment_method":${CARD}}`);
    const got = await readEnvelope(await send(e, { body: body, headers: { "idempotency-key": key } }));
    expect([got.status, got.code]).to.deep.equal([400, "invalid_json"]);
    expect(await p.worker!.journal.history(paymentIdFor(p.merchants[0]!.merchantId, key))).to.deep.equal([]);
    // The same reference in UTF-8 is taken, and kept as sent; a byte order mark is still allowed.
    const utf8 = await send(e, {
      body: `\ufeff{"amount":100,"currency":"EUR","reference":"café","payment_method":${CARD}}`,
    });
    expect(utf8.status, await utf8.clone().text()).to.equal(201);
    expect(((await utf8.json()) as { reference: string }).reference).to.equal("café");
    const metrics = await (await fetch(`${p.url}/metrics`)).text();
    const counted = /switchyard_inputs_refused_total\{edge="http",code="not_utf8"\} (\d+)/.exec(metrics);
    expect(Number(counted?.[1])).to.be.at.least(bodied.length + 1);
  });

  it("refuses a status filter that is no payment status, on the merchant's list and the operators' search", async () => {
    const list = endpoints.find((x) => x.method === "GET" && x.template === "/v1/payments")!;
    const search = endpoints.find((x) => x.method === "GET" && x.template === "/ops/payments")!;
    for (const e of [list, search]) {
      const bad = await readEnvelope(await send(e, { path: `${e.path}?status=capturd` }));
      expect([bad.status, bad.code, bad.issues[0]?.path], e.template).to.deep.equal([
        400,
        "validation_error",
        "status",
      ]);
      const good = await send(e, { path: `${e.path}?status=captured` });
      expect(good.status, `${e.template}: ${await good.clone().text()}`).to.equal(200);
    }
  });

  it("refuses a query parameter that does not percent-decode on every endpoint, naming it, and counts each", async () => {
    for (const e of endpoints) {
      for (const [query, path] of [
        ["reference=caf%E9", "reference"],
        ["limit=1&reference=%ZZ", "reference"],
        ["%C3=1", "[key]"],
      ]) {
        const got = await readEnvelope(await send(e, { path: `${e.path}?${query}` }));
        expect(
          [got.status, got.code, got.issues[0]?.path, got.issues[0]?.code],
          `${e.template}?${query}`,
        ).to.deep.equal([400, "malformed_request", path, "bad_percent_encoding"]);
      }
    }
    const metrics = await (await fetch(`${p.url}/metrics`)).text();
    const counted = /switchyard_inputs_refused_total\{edge="http",code="bad_percent_encoding"\} (\d+)/.exec(
      metrics,
    );
    expect(Number(counted?.[1])).to.be.at.least(endpoints.length * 3);
    // The same reference sent as UTF-8 is a search like any other.
    const search = endpoints.find((x) => x.method === "GET" && x.template === "/ops/payments")!;
    const good = await send(search, { path: `${search.path}?reference=caf%C3%A9` });
    expect(good.status, await good.clone().text()).to.equal(200);
  });
});
