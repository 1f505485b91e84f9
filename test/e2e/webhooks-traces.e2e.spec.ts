// Tracing of webhook deliveries: each attempt is a CLIENT span `POST <host>`, a child of the append
// of the payment event that caused it (the trace context in the PAY_EVT frame's headers), and the
// request carries its traceparent to the merchant.
import { expect } from "chai";
import type postgres from "postgres";
import { shutdownTracing, startTracing } from "../../config/tracing.ts";
import { Kind, startOtlpReceiver, type OtlpReceiver } from "../support/otlp-receiver.ts";
import { paymentBody, startTestPlatform, testEnv, type TestPlatform } from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";
import { runSql, startEndpointReceiver, type Receiver } from "../support/webhooks.ts";

describe("webhooks: a span per delivery attempt (e2e)", function () {
  this.timeout(30_000);
  let otlp: OtlpReceiver;
  let platform: TestPlatform;
  let sql: postgres.Sql;
  let receiver: Receiver;

  before(async () => {
    otlp = await startOtlpReceiver();
    startTracing("switchyard-test", {
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_BSP_SCHEDULE_DELAY: "100",
    });
    const env = testEnv({ SWITCHYARD_WEBHOOK_POLL_MS: "100" });
    platform = await startTestPlatform({ env });
    sql = runSql(env);
    receiver = await startEndpointReceiver(sql, env, "m_alpha");
  });
  after(async () => {
    await receiver?.close();
    await sql?.end({ timeout: 1 });
    await platform?.cleanup();
    await shutdownTracing();
    await otlp?.close();
  });

  it("makes each attempt a child of the event's append, and sends its traceparent", async () => {
    const traceId = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex");
    const caller = Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString("hex");
    const res = await platform
      .api(platform.merchants[0]!)
      .post("/v1/payments", paymentBody(), undefined, { traceparent: `00-${traceId}-${caller}-01` });
    expect(res.status).to.equal(201);
    const host = new URL(receiver.url).host;
    const span = await waitFor(
      () =>
        otlp.spans.find((s) => s.traceId === traceId && s.kind === Kind.client && s.name === `POST ${host}`),
      { timeoutMs: 10_000, what: "the delivery's span" },
    );
    const parent = otlp.spans.find((s) => s.spanId === span.parentSpanId);
    expect(parent?.name).to.match(/^append /);
    expect(span.attributes["http.response.status_code"]).to.equal(200);
    const delivered = receiver.ok().find((r) => r.event.data.object.id === res.body.id)!;
    expect(String(delivered.headers.traceparent)).to.match(new RegExp(`^00-${traceId}-${span.spanId}-`));
  });
});
