// The gateway's edges over real HTTP: W3C trace context and log bindings, the OpenAPI document,
// health, readiness and metrics, the answer when JetStream cannot store a command, and closing.
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { connect as connectTcp } from "node:net";
import { expect } from "chai";
import { paymentIdFor } from "../../actors/payment/core/ids.ts";
import { Header } from "../../streams/envelopes.ts";
import { commandSubject } from "../../streams/topology.ts";
import { MERCHANTS, PAN, errorOf, startGateway, validCreateBody, type Harness } from "./gateway-harness.ts";

describe("gateway: trace context and operations endpoints", function () {
  let h: Harness;

  before(async () => {
    h = await startGateway();
  });
  after(async () => {
    await h?.close();
  });

  describe("trace context", () => {
    it("echoes a valid traceparent and puts it on the command", async () => {
      const traceparent = `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`;
      const key = randomBytes(6).toString("hex");
      const res = await h.call("POST", "/v1/payments", {
        idem: key,
        body: validCreateBody(),
        headers: { traceparent },
      });
      expect(res.headers.get("traceparent")).to.equal(traceparent);
      const stored = await h.jsm.streams.getMessage(h.topo.commandStream, {
        last_by_subj: commandSubject(
          h.topo,
          MERCHANTS.alpha.merchantId,
          paymentIdFor(MERCHANTS.alpha.merchantId, key),
        ),
      });
      expect(stored?.header.get(Header.traceparent)).to.equal(traceparent);
    });

    it("starts a new trace when traceparent is absent or malformed", async () => {
      const format = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;
      const absent = await fetch(`${h.url}/healthz`);
      expect(absent.headers.get("traceparent")).to.match(format);
      const bad = await fetch(`${h.url}/healthz`, {
        headers: { traceparent: `00-${"0".repeat(32)}-${"1".repeat(16)}-01` },
      });
      expect(bad.headers.get("traceparent")).to.match(format).and.not.include("0".repeat(32));
      const unauthorized = await h.call("GET", "/v1/payments/pay_x", { key: null });
      expect(unauthorized.headers.get("traceparent")).to.match(format);
    });

    it("logs traceId, merchantId and paymentId on the request's lines, never the card or the key", async () => {
      const traceId = randomBytes(16).toString("hex");
      const key = randomBytes(6).toString("hex");
      const traceparent = `00-${traceId}-${randomBytes(8).toString("hex")}-01`;
      await h.call("POST", "/v1/payments", { idem: key, body: validCreateBody(), headers: { traceparent } });
      await h.call("POST", "/v1/payments", {
        body: validCreateBody({ amount: -1 }),
        headers: { traceparent },
      });
      const lines = h.logs
        .filter((l) => l.includes(traceId))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      // One access line per request, with the request's fields.
      expect(lines.filter((l) => l.msg === "request")).to.have.length(2);
      const completed = lines.find((l) => l.msg === "request" && l.paymentId);
      expect(completed).to.include({
        merchantId: MERCHANTS.alpha.merchantId,
        paymentId: paymentIdFor(MERCHANTS.alpha.merchantId, key),
      });
      const all = h.logs.join("\n");
      expect(all).not.to.include(PAN);
      expect(all).not.to.include(MERCHANTS.alpha.key);
    });
  });

  describe("operations endpoints", () => {
    it("serves an OpenAPI 3 document with the payment paths, bearer auth and error responses", async () => {
      const doc = (await (await fetch(`${h.url}/openapi.json`)).json()) as {
        openapi: string;
        info: { title: string };
        paths: Record<
          string,
          Record<string, { responses: Record<string, { description: string }>; security?: unknown }>
        >;
        components: { securitySchemes: Record<string, { type: string; scheme: string }> };
      };
      expect(doc.openapi).to.match(/^3\./);
      expect(doc.info.title).to.equal("Switchyard");
      expect(doc.paths).to.include.keys(
        "/v1/payments",
        "/v1/payments/{id}",
        "/v1/payments/{id}/capture",
        "/v1/payments/{id}/cancel",
        "/v1/payments/{id}/refunds",
      );
      expect(doc.components.securitySchemes.bearerAuth).to.include({ type: "http", scheme: "bearer" });
      const create = doc.paths["/v1/payments"]!.post!;
      expect(create.responses).to.include.keys("201", "202", "400", "401", "422", "503");
      expect(create.responses["400"]!.description).to.include("validation_error");
      expect(create.security).to.deep.equal([{ bearerAuth: [] }]);
      // The body is the named CreatePaymentRequest schema (gateway-openapi.int.spec.ts checks the $refs).
      expect(JSON.stringify(doc.components)).to.include("amount").and.include("payment_method");
      expect(doc.paths).to.include.keys("/openapi.json", "/metrics");
      const cancel = doc.paths["/v1/payments/{id}/cancel"]!.post! as { requestBody?: { required: boolean } };
      expect(cancel.requestBody?.required).to.equal(false);
      expect(create.responses["202"]!.description).to.include("created");
    });

    it("answers /healthz with ok", async () => {
      const res = await fetch(`${h.url}/healthz`);
      expect(res.status).to.equal(200);
      expect(await res.json()).to.deep.equal({ status: "ok" });
    });

    it("answers /readyz 200 when every check passes and 503 naming the one that failed or hung", async () => {
      const ok = await fetch(`${h.url}/readyz`);
      expect(ok.status).to.equal(200);
      expect(await ok.json()).to.deep.equal({ status: "ready", checks: { nats: "ok", redis: "ok" } });
      h.readiness.redis = "fail";
      const failed = await fetch(`${h.url}/readyz`);
      expect(failed.status).to.equal(503);
      expect(await failed.json()).to.deep.equal({
        status: "not_ready",
        checks: { nats: "ok", redis: "failed" },
      });
      h.readiness.redis = "hang";
      const hung = await fetch(`${h.url}/readyz`);
      expect(hung.status).to.equal(503);
      expect(((await hung.json()) as { checks: unknown }).checks).to.deep.equal({
        nats: "ok",
        redis: "timeout",
      });
      h.readiness.redis = "ok";
    });

    it("serves Prometheus metrics with HTTP durations labelled by route pattern", async () => {
      await h.call("GET", "/v1/payments/pay_000000000000000000000001");
      const res = await fetch(`${h.url}/metrics`);
      expect(res.headers.get("content-type")).to.include("text/plain");
      const text = await res.text();
      expect(text).to.include("switchyard_http_request_duration_seconds");
      expect(text).to.match(
        /switchyard_http_request_duration_seconds_count\{[^}]*route="\/v1\/payments\/:id"[^}]*status="404"/,
      );
      expect(text).not.to.include("pay_000000000000000000000001");
    });
  });
});

describe("gateway: when JetStream cannot take the command", function () {
  let h: Harness;
  before(async () => {
    h = await startGateway({ busWithoutStreams: true });
  });
  after(async () => {
    await h?.close();
  });

  it("answers 503 service_unavailable", async () => {
    await errorOf(
      await h.call("POST", "/v1/payments", { body: validCreateBody() }),
      503,
      "service_unavailable",
    );
  });
});

describe("gateway: closing with a client connection that never sent a request", function () {
  it("ends the silent connection and closes at once, instead of waiting for the headers timeout", async () => {
    const h = await startGateway();
    const { hostname, port } = new URL(h.url);
    const socket = connectTcp({ host: hostname, port: Number(port) });
    await once(socket, "connect");
    const ended = once(socket, "close");
    const started = Date.now();
    await h.close();
    await ended;
    // Node's headers timeout is 60 s; the mocha timeout (30 s) would fail this test long before.
    expect(Date.now() - started).to.be.below(5_000);
  });
});
