// The edges of the merchant API over real HTTP (fetch, and a bare socket for what fetch will not
// send): ambiguous headers, bodies that are not objects, card numbers in free text, requests Node's
// parser or fastify's router refuse, encodings and charsets, a body that never arrives in full,
// and currencies no PSP takes. Every answer is the documented error envelope.
import { expect } from "chai";
import {
  MERCHANTS,
  errorOf,
  startGateway,
  validCreateBody,
  viewOf,
  type Harness,
} from "./gateway-harness.ts";
import { rawRequest, type RawResponse } from "../support/raw-http.ts";

/** Asserts the envelope of a raw answer and returns its error. */
function envelopeOf(res: RawResponse, status: number, code: string) {
  expect(res.status, res.body).to.equal(status);
  expect(res.headers["content-type"]).to.match(/^application\/json/);
  const body = JSON.parse(res.body) as { error: { code: string; message: string; details: object } };
  expect(body.error.code).to.equal(code);
  expect(body.error.message).to.be.a("string").and.not.be.empty;
  expect(body.error.details).to.be.an("object");
  return body.error;
}

describe("gateway: edges", function () {
  let h: Harness;
  let commands = 0;
  const host = () => new URL(h.url).host;
  const auth = () => `Authorization: Bearer ${MERCHANTS.alpha.key}`;

  before(async () => {
    h = await startGateway({ requestTimeoutMs: 500 });
    h.actor.respond = () => {
      commands++;
      return undefined;
    };
  });
  after(async () => {
    await h?.close();
  });

  describe("headers that must come once", () => {
    it("answers 400 duplicate_header for two Authorization headers, whichever is valid", async () => {
      const res = await rawRequest(
        h.url,
        `GET /v1/payments/pay_x HTTP/1.1\r\nHost: ${host()}\r\n${auth()}\r\nAuthorization: Bearer sk_other`,
      );
      const e = envelopeOf(res, 400, "duplicate_header");
      expect(e.details).to.deep.equal({ header: "authorization" });
    });

    it("answers 400 duplicate_header for two Idempotency-Key headers, and queues nothing", async () => {
      const before = commands;
      const body = JSON.stringify(validCreateBody());
      const res = await rawRequest(
        h.url,
        `POST /v1/payments HTTP/1.1\r\nHost: ${host()}\r\n${auth()}\r\nIdempotency-Key: a\r\n` +
          `Idempotency-Key: b\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}`,
        body,
      );
      const e = envelopeOf(res, 400, "duplicate_header");
      expect(e.details).to.deep.equal({ header: "idempotency-key" });
      expect(commands).to.equal(before);
    });
  });

  describe("bodies that are not JSON objects", () => {
    for (const op of ["capture", "refunds", "cancel"])
      it(`answers 400 validation_error to a JSON null body on ${op}, not "no body"`, async () => {
        h.views.set("pay_null_body", viewOf("pay_null_body", MERCHANTS.alpha.merchantId, "captured"));
        const res = await h.call("POST", `/v1/payments/pay_null_body/${op}`, { rawBody: "null" });
        const err = await errorOf(res, 400, "validation_error");
        expect(err.error.message).to.match(/JSON object, not null/);
      });

    it("answers 400 validation_error to an array or a bare value", async () => {
      for (const raw of ["[]", "42", '"x"', "true"])
        await errorOf(await h.call("POST", "/v1/payments", { rawBody: raw }), 400, "validation_error");
    });
  });

  describe("card numbers in free text", () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ["a PAN as the reference", { reference: "4242424242424242" }, "reference"],
      ["a spaced PAN inside the reference", { reference: "order 4242 4242 4242 4242 ok" }, "reference"],
      ["a dashed 15-digit amex number", { reference: "3782-822463-10005" }, "reference"],
      ["a PAN as a metadata value", { metadata: { note: "card 5555555555554444" } }, "metadata.note"],
      ["a PAN as a metadata key", { metadata: { "4000056655665556": "x" } }, "metadata.[key]"],
    ];
    for (const [what, over, path] of cases)
      it(`answers 400 card_number_in_free_text for ${what}, never echoing it and queuing nothing`, async () => {
        const before = commands;
        const res = await h.call("POST", "/v1/payments", { body: validCreateBody(over) });
        const text = await res.clone().text();
        const err = await errorOf(res, 400, "card_number_in_free_text");
        expect(err.error.details.issues?.map((i) => i.path)).to.deep.equal([path]);
        for (const digits of JSON.stringify(over).match(/\d[\d -]{11,}\d/g) ?? [])
          expect(text).not.to.include(digits.replace(/[ -]/g, "")).and.not.to.include(digits);
        expect(h.logs.join("\n")).not.to.include("5555555555554444");
        expect(commands).to.equal(before);
      });

    it("lets numbers through that are not card numbers: Luhn-invalid, too short, or part of a longer run", async () => {
      for (const reference of [
        "4242424242424241",
        "424242424242",
        "42424242424242424242424",
        "0000000000000",
      ]) {
        const res = await h.call("POST", "/v1/payments", { body: validCreateBody({ reference }) });
        expect(res.status, reference).to.equal(202);
      }
    });
  });

  describe("what Node's parser and fastify's router refuse, in the envelope", () => {
    it("answers 400 malformed_request for a DEL byte in Idempotency-Key", async () => {
      const res = await rawRequest(
        h.url,
        `POST /v1/payments HTTP/1.1\r\nHost: ${host()}\r\n${auth()}\r\nIdempotency-Key: a\x7fb\r\nContent-Length: 0`,
      );
      expect(res.status).to.equal(400);
      const body = JSON.parse(res.body) as { error: { code: string } };
      expect(["malformed_request", "validation_error"]).to.include(body.error.code);
    });

    it("answers 400 malformed_request for a bare control byte in a header", async () => {
      const res = await rawRequest(h.url, `GET /healthz HTTP/1.1\r\nHost: ${host()}\r\nX-Bad: a\x01b`);
      envelopeOf(res, 400, "malformed_request");
    });

    it("answers 400 malformed_request for a URL that does not decode (/v1/payments/%)", async () => {
      const res = await rawRequest(h.url, `GET /v1/payments/% HTTP/1.1\r\nHost: ${host()}\r\n${auth()}`);
      envelopeOf(res, 400, "malformed_request");
    });

    it("answers 414 uri_too_long for a 5,000-character id", async () => {
      await errorOf(await h.call("GET", `/v1/payments/${"p".repeat(5_000)}`), 414, "uri_too_long");
    });

    it("answers 414 uri_too_long for a long query string, and for a URL past Node's header limit", async () => {
      await errorOf(await h.call("GET", `/healthz?x=${"q".repeat(3_000)}`), 414, "uri_too_long");
      const res = await rawRequest(h.url, `GET /healthz?x=${"q".repeat(20_000)} HTTP/1.1\r\nHost: ${host()}`);
      envelopeOf(res, 414, "uri_too_long");
    });

    it("answers 431 headers_too_large for a 64 KB header", async () => {
      const res = await rawRequest(
        h.url,
        `GET /healthz HTTP/1.1\r\nHost: ${host()}\r\nX-Big: ${"b".repeat(65_536)}`,
      );
      envelopeOf(res, 431, "headers_too_large");
    });
  });

  describe("encodings, charsets and slow bodies", () => {
    it("answers 415 to a JSON body in a charset other than UTF-8", async () => {
      for (const ct of ["application/json; charset=utf-16", "application/json;charset=ISO-8859-1"]) {
        const res = await h.call("POST", "/v1/payments", {
          body: validCreateBody(),
          headers: { "content-type": ct },
        });
        await errorOf(res, 415, "unsupported_media_type");
      }
      const ok = await h.call("POST", "/v1/payments", {
        body: validCreateBody(),
        headers: { "content-type": "application/json; charset=UTF-8" },
      });
      expect(ok.status).to.equal(202);
    });

    it("answers 415 to any Content-Encoding", async () => {
      for (const enc of ["gzip", "deflate", "br"]) {
        const res = await h.call("POST", "/v1/payments", {
          body: validCreateBody(),
          headers: { "content-encoding": enc },
        });
        await errorOf(res, 415, "unsupported_media_type");
      }
    });

    it("answers 408 request_timeout promptly when the body is shorter than its Content-Length", async () => {
      const res = await rawRequest(
        h.url,
        `POST /v1/payments HTTP/1.1\r\nHost: ${host()}\r\n${auth()}\r\nIdempotency-Key: slow\r\n` +
          "Content-Type: application/json\r\nContent-Length: 500",
        '{"amount":',
        { deadlineMs: 5_000 },
      );
      envelopeOf(res, 408, "request_timeout");
      expect(res.elapsedMs).to.be.below(3_000);
    });
  });

  describe("currencies", () => {
    for (const currency of ["JOD", "CLP", "BHD", "ISK"])
      it(`answers 422 currency_not_supported for ${currency}, which no configured PSP takes`, async () => {
        const before = commands;
        const res = await h.call("POST", "/v1/payments", { body: validCreateBody({ currency }) });
        const err = await errorOf(res, 422, "currency_not_supported");
        expect(err.error.details).to.deep.include({ currency });
        expect((err.error.details as { supported: string[] }).supported)
          .to.include("EUR")
          .and.not.include(currency);
        expect(commands).to.equal(before);
      });
  });
});
