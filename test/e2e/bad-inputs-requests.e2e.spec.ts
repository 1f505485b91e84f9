// Every endpoint that exists, under bad requests: missing and unknown keys, duplicate headers,
// bodies of the wrong kind, bad path parameters, long URLs, card numbers in query strings, and bad
// Idempotency-Keys. The endpoint list is read from the platform's own /openapi.json (which documents
// every route, /ops, /metrics and /openapi.json included), so a new route is covered the day it is
// added. Each bad request must be a 4xx in the error envelope, never a 5xx. Text no store downstream
// can hold, and card numbers in URLs: bad-inputs-unstorable.e2e.spec.ts. Follow-ups racing on one
// payment: test/e2e/follow-up-races.e2e.spec.ts.
import { expect } from "chai";
import {
  PARAM_VALUES,
  endpointRequests,
  isPspDoor,
  readEnvelope,
  startBadInputsPlatform,
  type Endpoint,
} from "../support/documented-endpoints.ts";
import { CARDS, type TestPlatform } from "../support/platform.ts";
import { rawRequest } from "../support/raw-http.ts";

describe("every endpoint under bad input: requests (e2e)", function () {
  this.timeout(120_000);
  let p: TestPlatform;
  let endpoints: Endpoint[];
  let merchantKey: string;

  before(async () => {
    ({ p, endpoints, merchantKey } = await startBadInputsPlatform());
  });
  after(async () => {
    await p?.cleanup();
  });

  const { keyOf, send } = endpointRequests(() => ({ url: p.url, merchantKey }));

  /** A 4xx in the envelope, optionally with one of the given codes. */
  async function expect4xx(e: Endpoint, res: Response, codes?: string[]) {
    const { status, code } = await readEnvelope(res);
    const what = `${e.method} ${e.template}`;
    expect(status, `${what}: ${code}`).to.be.within(400, 499);
    if (codes) expect(codes, `${what} answered ${code}`).to.include(code);
  }

  it("covers every documented endpoint, /ops, /metrics and /openapi.json included", () => {
    const names = endpoints.map((e) => `${e.method} ${e.template}`);
    expect(names).to.include.members([
      "POST /v1/payments",
      "GET /v1/payments/{id}",
      "POST /v1/payments/{id}/capture",
      "POST /v1/payments/{id}/refunds",
      "POST /v1/payments/{id}/cancel",
      "POST /ops/policies/{kind}",
      "PUT /ops/policies/routing/shadow",
      "POST /ops/psps/{psp}/out",
      "GET /ops/dead-letters",
      "POST /ops/dead-letters/{id}/redrive",
      "GET /metrics",
      "GET /openapi.json",
      "GET /healthz",
    ]);
    expect(endpoints.length).to.be.at.least(20);
  });

  it("refuses a missing or unknown key with 401 on every authenticated endpoint", async () => {
    for (const e of endpoints.filter((x) => x.auth !== "none")) {
      await expect4xx(e, await send(e, { key: null }), ["unauthorized"]);
      await expect4xx(e, await send(e, { key: `sk_${"0".repeat(32)}` }), ["unauthorized"]);
    }
  });

  it("refuses two Authorization headers with 400 duplicate_header on every endpoint", async () => {
    const host = new URL(p.url).host;
    for (const e of endpoints) {
      const res = await rawRequest(
        p.url,
        `${e.method} ${e.path} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${keyOf(e) ?? "x"}\r\n` +
          "Authorization: Bearer other\r\nContent-Length: 0",
      );
      expect(res.status, `${e.method} ${e.template}`).to.equal(400);
      expect((JSON.parse(res.body) as { error: { code: string } }).error.code).to.equal("duplicate_header");
    }
  });

  it("refuses bodies of the wrong kind on every endpoint that takes one, and null on every POST and PUT", async () => {
    const big = JSON.stringify({ pad: "x".repeat(70 * 1024) });
    // The PSPs' notification door checks the signature over the raw bytes before reading them: an
    // unsigned body is a 401 whatever it holds (its own bad inputs: three-ds-browser.e2e.spec.ts).
    const bodied = endpoints.filter((x) => (x.method === "POST" || x.method === "PUT") && !isPspDoor(x));
    for (const e of bodied) {
      await expect4xx(e, await send(e, { body: "null" }), ["validation_error"]);
      await expect4xx(e, await send(e, { body: "[1,2]" }), ["validation_error"]);
      await expect4xx(e, await send(e, { body: "{" }), ["invalid_json"]);
      await expect4xx(e, await send(e, { body: big }), ["payload_too_large"]);
      await expect4xx(e, await send(e, { body: "{}", headers: { "content-type": "text/plain" } }), [
        "unsupported_media_type",
      ]);
      const utf16 = { "content-type": "application/json; charset=utf-16" };
      await expect4xx(e, await send(e, { body: "{}", headers: utf16 }), ["unsupported_media_type"]);
      await expect4xx(e, await send(e, { body: "{}", headers: { "content-encoding": "gzip" } }), [
        "unsupported_media_type",
      ]);
      await expect4xx(e, await send(e, { body: JSON.stringify({ note: CARDS.success }) }), [
        "card_number_in_free_text",
      ]);
      if (!e.takesBody) continue;
      // Wrong types and unknown fields, for every body schema at once.
      const wrong = { amount: "100", version: "2", reason: 5, kind: 7, unknown_field: true };
      await expect4xx(e, await send(e, { body: JSON.stringify(wrong) }), [
        "validation_error",
        "invalid_policy",
      ]);
      await expect4xx(e, await send(e, { body: JSON.stringify({ unknown_field: 1 }) }), [
        "validation_error",
        "invalid_policy",
      ]);
    }
  });

  it("refuses bad path parameters, long URLs and card numbers in query strings on every endpoint", async () => {
    for (const e of endpoints) {
      await expect4xx(e, await send(e, { path: `${e.path}?q=${CARDS.success}` }), [
        "card_number_in_free_text",
      ]);
      await expect4xx(e, await send(e, { path: `${e.path}?q=${"x".repeat(3_000)}` }), ["uri_too_long"]);
      await expect4xx(e, await send(e, { headers: { "content-encoding": "br" } }), [
        "unsupported_media_type",
      ]);
      for (const param of e.params) {
        const value = (v: string) =>
          e.template.replace(/\{(\w+)\}/g, (_, n: string) => (n === param ? v : PARAM_VALUES[n]!));
        await expect4xx(e, await send(e, { path: value("p".repeat(5_000)) }), ["uri_too_long"]);
        await expect4xx(e, await send(e, { path: value("%E0%A4%A") }));
        const bad = await send(e, { path: value("no%20such") });
        expect(bad.status, `${e.method} ${e.template} {${param}}`).to.be.within(400, 499);
        await readEnvelope(bad);
      }
    }
  });

  it("refuses missing, overlong and repeated Idempotency-Keys on every merchant POST", async () => {
    const host = new URL(p.url).host;
    for (const e of endpoints.filter((x) => x.method === "POST" && x.auth === "merchant")) {
      const noKey = await fetch(`${p.url}${e.path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${merchantKey}` },
      });
      await expect4xx(e, noKey, ["idempotency_key_missing"]);
      await expect4xx(e, await send(e, { headers: { "idempotency-key": "k".repeat(256) } }), [
        "validation_error",
      ]);
      const twice = await rawRequest(
        p.url,
        `POST ${e.path} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${merchantKey}\r\n` +
          "Idempotency-Key: a\r\nIdempotency-Key: b\r\nContent-Length: 0",
      );
      expect(twice.status).to.equal(400);
    }
  });
});
