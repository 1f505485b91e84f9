// Tracing end to end: a payment's spans (HTTP request, command publish, command handling, event
// appends, PSP call) reach a real OTLP/HTTP receiver as one trace continuing the caller's
// traceparent, linked parent to child across the NATS hop; the PSP and the log lines see the same
// trace. And with no endpoint configured, tracing is the API's no-op and nothing is exported.
import { Writable } from "node:stream";
import { trace } from "@opentelemetry/api";
import { expect } from "chai";
import { createLogger } from "../../config/log.ts";
import { shutdownTracing, startTracing, tracesEndpoint, tracingEnabled } from "../../config/tracing.ts";
import { Kind, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "../support/otlp-receiver.ts";
import { paymentBody, startTestPlatform, type TestPlatform } from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";

const hex = (bytes: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");

function lineSink(lines: string[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString("utf8"));
      done();
    },
  });
}

describe("traces (e2e)", function () {
  this.timeout(30_000);

  describe("with an OTLP endpoint configured", () => {
    let receiver: OtlpReceiver;
    let platform: TestPlatform;
    const lines: string[] = [];

    before(async () => {
      receiver = await startOtlpReceiver();
      expect(
        startTracing("switchyard-test", {
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_BSP_SCHEDULE_DELAY: "100",
        }),
      ).to.equal(true);
      platform = await startTestPlatform({ log: createLogger("info", {}, lineSink(lines)) });
    });
    after(async () => {
      await platform.cleanup();
      await shutdownTracing();
      await receiver.close();
    });

    it("exports the payment's spans as one trace continuing the caller's, linked across NATS", async () => {
      const traceId = hex(16);
      const callerSpanId = hex(8);
      const res = await platform
        .api(platform.merchants[0]!)
        .post("/v1/payments", paymentBody(), undefined, { traceparent: `00-${traceId}-${callerSpanId}-01` });
      expect(res.status).to.equal(201);
      const paymentId = res.body.id;

      const inTrace = () => receiver.spans.filter((s) => s.traceId === traceId);
      const one = (pred: (s: ReceivedSpan) => boolean) => inTrace().find(pred);
      const spans = await waitFor(
        () => {
          const request = one((s) => s.kind === Kind.server && s.name === "POST /v1/payments");
          const publish = one((s) => s.kind === Kind.producer && s.name.startsWith("publish "));
          const handling = one((s) => s.kind === Kind.consumer && s.name.startsWith("process "));
          const appends = inTrace().filter((s) => s.name.startsWith("append "));
          const psp = one((s) => s.kind === Kind.client);
          return request && publish && handling && appends.length > 0 && psp
            ? { request, publish, handling, appends, psp }
            : undefined;
        },
        { timeoutMs: 10_000, what: "the payment's spans at the OTLP receiver" },
      );

      expect(spans.request.parentSpanId).to.equal(callerSpanId);
      expect(spans.request.attributes["http.response.status_code"]).to.equal(201);
      expect(spans.publish.parentSpanId).to.equal(spans.request.spanId);
      expect(spans.handling.parentSpanId).to.equal(spans.publish.spanId);
      for (const a of spans.appends) expect(a.parentSpanId).to.equal(spans.handling.spanId);
      expect(spans.psp.parentSpanId).to.equal(spans.handling.spanId);
      expect(spans.request.service).to.equal("switchyard-test");
      // Nothing about the card in any attribute.
      expect(JSON.stringify(inTrace())).not.to.contain("4242424242424242");

      // The response names the request's span; the PSP was called with the PSP call's own span.
      expect(res.headers.get("traceparent")).to.equal(`00-${traceId}-${spans.request.spanId}-01`);
      const charges = platform.sandbox!.charges({ reference: paymentId });
      expect(charges.map((c) => c.traceparent)).to.deep.equal([`00-${traceId}-${spans.psp.spanId}-01`]);

      // The request's log line names the trace and the request's span; the worker's lines, written
      // while the command is handled, the handling's span (the log mixin, config/log.ts).
      const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      const access = logged.find((l) => l.msg === "request" && l.traceId === traceId);
      expect(access).to.include({ traceId, spanId: spans.request.spanId });
      const worker = logged.find((l) => l.msg === "payment status changed" && l.paymentId === paymentId);
      expect(worker).to.include({ traceId, spanId: spans.handling.spanId });
    });
  });

  describe("with no endpoint configured", () => {
    let receiver: OtlpReceiver;
    let platform: TestPlatform;

    before(async () => {
      receiver = await startOtlpReceiver();
      expect(startTracing("switchyard-test", {})).to.equal(false);
      platform = await startTestPlatform();
    });
    after(async () => {
      await platform.cleanup();
      await receiver.close();
    });

    it("reads the endpoint as the OTLP specification does, and OTEL_SDK_DISABLED wins", () => {
      expect(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318/" })).to.equal(
        "http://c:4318/v1/traces",
      );
      expect(
        tracesEndpoint({
          OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318",
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://t:4318/x",
        }),
      ).to.equal("http://t:4318/x");
      expect(
        tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" }),
      ).to.equal(undefined);
      expect(tracesEndpoint({})).to.equal(undefined);
    });

    it("creates no spans and carries the caller's traceparent by hand, unchanged, to the PSP", async () => {
      expect(tracingEnabled()).to.equal(false);
      expect(trace.getTracer("switchyard").startSpan("probe").isRecording()).to.equal(false);
      const traceparent = `00-${hex(16)}-${hex(8)}-01`;
      const res = await platform
        .api(platform.merchants[0]!)
        .post("/v1/payments", paymentBody(), undefined, { traceparent });
      expect(res.status).to.equal(201);
      expect(res.headers.get("traceparent")).to.equal(traceparent);
      expect(platform.sandbox!.charges({ reference: res.body.id }).map((c) => c.traceparent)).to.deep.equal([
        traceparent,
      ]);
      expect(receiver.requests).to.equal(0);
    });
  });
});
