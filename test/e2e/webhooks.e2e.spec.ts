// Outgoing merchant webhooks end to end: payments through the real platform, deliveries POSTed to a
// real local receiver that verifies each one with the official `standardwebhooks` package, as a
// merchant would. Signed, in order per payment, retried on the schedule, dead after the last try,
// the endpoint disabled after failing long enough.
import { expect } from "chai";
import type postgres from "postgres";
import {
  CARDS,
  paymentBody,
  startTestPlatform,
  testEnv,
  type Api,
  type TestPlatform,
} from "../support/platform.ts";
import { countWire } from "../../streams/wire-counts.ts";
import { parseMetrics, series } from "../support/prometheus.ts";
import { waitFor } from "../support/wait.ts";
import { createEndpoint, runSql, startReceiver, type Receiver } from "../support/webhooks.ts";

type DeliveryRow = { status: string; attempts: number; attempt_log: Array<Record<string, unknown>> };

describe("webhooks: signed deliveries, order, retries, dead, disabled (e2e)", function () {
  this.timeout(60_000);
  let platform: TestPlatform;
  let env: Record<string, string>;
  let sql: postgres.Sql;
  let alpha: Api;
  let beta: Api;
  const receivers: Receiver[] = [];

  before(async () => {
    env = testEnv({
      SWITCHYARD_WEBHOOK_RETRY_SCHEDULE: "300ms,600ms,900ms",
      SWITCHYARD_WEBHOOK_DISABLE_AFTER: "4s",
      SWITCHYARD_WEBHOOK_POLL_MS: "100",
    });
    platform = await startTestPlatform({ env });
    sql = runSql(env);
    alpha = platform.api(platform.merchants[0]!);
    beta = platform.api(platform.merchants[1]!);
  });
  after(async () => {
    for (const r of receivers) await r.close();
    await sql?.end({ timeout: 1 });
    await platform?.cleanup();
  });

  /** A receiver and an endpoint of `merchantId` pointing at it. */
  const endpoint = async (merchantId: string, events?: string[]) => {
    const key: { secret?: string } = {};
    const receiver = await startReceiver(() => key.secret);
    receivers.push(receiver);
    const ep = await createEndpoint(sql, env, {
      merchantId,
      url: receiver.url,
      ...(events && { events }),
    });
    key.secret = ep.secret;
    return { receiver, id: ep.id, secret: ep.secret };
  };

  /** An authorized, captured and partly refunded payment of `api`'s merchant. */
  const lifecycle = async (api: Api): Promise<string> => {
    const created = await api.post("/v1/payments", paymentBody({ number: CARDS.success }));
    expect(created.status).to.equal(201);
    const id = created.body.id;
    expect((await api.post(`/v1/payments/${id}/capture`, {})).status).to.equal(200);
    expect((await api.post(`/v1/payments/${id}/refunds`, { amount: 100 })).status).to.equal(200);
    return id;
  };

  const typesOf = (r: Receiver, paymentId: string) =>
    r
      .ok()
      .filter((x) => x.event.data.object.id === paymentId)
      .map((x) => x.event.type);

  const deliveriesOf = (endpointId: string, paymentId?: string) =>
    paymentId
      ? sql<DeliveryRow[]>`select status, attempts, attempt_log from webhook_deliveries
          where endpoint_id = ${endpointId} and payment_id = ${paymentId} order by seq, idx`
      : sql<DeliveryRow[]>`select status, attempts, attempt_log from webhook_deliveries
          where endpoint_id = ${endpointId} order by seq, idx`;

  it("delivers each payment's events signed, in order, to the merchant's matching endpoints only", async () => {
    const all = await endpoint("m_alpha");
    const capturedOnly = await endpoint("m_alpha", ["payment.captured"]);
    const ids = await Promise.all([lifecycle(alpha), lifecycle(alpha), lifecycle(alpha)]);
    const betaId = await lifecycle(beta);
    await waitFor(() => all.receiver.ok().length >= 9 && capturedOnly.receiver.ok().length >= 3, {
      timeoutMs: 20_000,
      what: "9 deliveries to one endpoint, 3 to the other",
    });
    for (const id of ids) {
      expect(typesOf(all.receiver, id)).to.deep.equal([
        "payment.authorized",
        "payment.captured",
        "refund.succeeded",
      ]);
      expect(typesOf(capturedOnly.receiver, id)).to.deep.equal(["payment.captured"]);
    }
    const first = all.receiver.ok()[0]!;
    expect(first.id).to.equal(first.event.id);
    expect(first.id).to.match(/^evt_/);
    expect(first.headers["user-agent"]).to.equal("Switchyard-Webhooks/1");
    expect(first.headers["content-type"]).to.equal("application/json");
    expect(Math.abs(Number(first.timestamp) - Date.now() / 1000)).to.be.below(60);
    // The view in the event is the payment right after the event.
    const captured = all.receiver.ok().find((x) => x.event.type === "payment.captured")!;
    expect(captured.event.data.object.status).to.equal("captured");
    // Another merchant's payment never reaches this merchant's endpoints.
    expect(all.receiver.all.some((x) => x.event.data.object.id === betaId)).to.equal(false);
    expect(new Set(all.receiver.ok().map((x) => x.id)).size).to.equal(all.receiver.ok().length);
    // Recorded once the receiver's answer is in: wait for the records, then each took one attempt.
    const rows = await waitFor(
      async () => {
        const r = await deliveriesOf(all.id);
        return r.length === 9 && r.every((d) => d.status === "succeeded") ? r : undefined;
      },
      { timeoutMs: 5_000, what: "9 deliveries recorded as succeeded" },
    );
    expect(rows.every((r) => r.attempts === 1)).to.equal(true);
    // The dispatcher leased most of them to this process's sender as it stored them: sent without a
    // claim (a delivery stored while its payment's previous one was still being sent waits for one).
    const started = parseMetrics(await (await fetch(`${platform.url}/metrics`)).text());
    const handed = series(started, "switchyard_webhook_attempts_started_total", { via: "handed" });
    expect(handed[0]?.value ?? 0).to.be.at.least(4);
    const log = rows[0]!.attempt_log[0]!;
    expect(log.status).to.equal(200);
    expect(log.response).to.equal("ok");
    expect(log.latency_ms).to.be.a("number");
  });

  it("gives a receiver that was down everything, in order, once its retries come round", async () => {
    const down = await endpoint("m_alpha");
    let refused = 0;
    down.receiver.answer(() => (refused++ < 2 ? 500 : 200));
    const id = await lifecycle(alpha);
    await waitFor(() => typesOf(down.receiver, id).length >= 3, {
      timeoutMs: 20_000,
      what: "the three events after the receiver came back",
    });
    expect(typesOf(down.receiver, id)).to.deep.equal([
      "payment.authorized",
      "payment.captured",
      "refund.succeeded",
    ]);
    // Only this payment's deliveries: a payment of an earlier test may still be on its way.
    const mine = down.receiver.all.filter((x) => x.event.data.object.id === id);
    expect(mine.slice(0, 3).map((x) => [x.event.type, x.status])).to.deep.equal([
      ["payment.authorized", 500],
      ["payment.authorized", 500],
      ["payment.authorized", 200],
    ]);
    const [firstRow] = await deliveriesOf(down.id, id);
    expect(firstRow?.attempts).to.equal(3);
    expect(firstRow?.attempt_log.map((a) => a.status)).to.deep.equal([500, 500, 200]);
    expect(firstRow?.attempt_log[0]?.response).to.equal("not now");
  });

  it("keeps a delivery dead after its last try", async () => {
    const broken = await endpoint("m_alpha", ["payment.authorized"]);
    broken.receiver.answer(() => 503);
    await alpha.post("/v1/payments", paymentBody({ number: CARDS.success }));
    const [row] = await waitFor(
      async () => {
        const rows = await deliveriesOf(broken.id);
        return rows[0]?.status === "dead" ? rows : undefined;
      },
      { timeoutMs: 15_000, what: "the delivery to be dead" },
    );
    expect(row?.attempts).to.equal(4);
    expect(row?.attempt_log.map((a) => a.status)).to.deep.equal([503, 503, 503, 503]);
    expect(broken.receiver.all).to.have.length(4);
    const [ep] = await sql<{ disabled: boolean; failing_since: Date | null }[]>`
      select disabled, failing_since from webhook_endpoints where id = ${broken.id}`;
    expect(ep?.failing_since).to.be.instanceOf(Date);
    expect(ep?.disabled).to.equal(false);
    const metrics = await (await fetch(`${platform.url}/metrics`)).text();
    expect(metrics).to.include(`switchyard_webhook_endpoint_failing{endpoint="${broken.id}"} 1`);
  });

  it("disables an endpoint that fails for longer than the configured time, saying why", async () => {
    const failing = await endpoint("m_alpha", ["payment.authorized"]);
    failing.receiver.answer(() => 500);
    const ep = await waitFor(
      async () => {
        // New deliveries keep failing until the endpoint has failed for 4 s.
        await alpha.post("/v1/payments", paymentBody({ number: CARDS.success }));
        const [row] = await sql<{ disabled: boolean; disabled_reason: string | null }[]>`
          select disabled, disabled_reason from webhook_endpoints where id = ${failing.id}`;
        return row?.disabled ? row : undefined;
      },
      { timeoutMs: 20_000, what: "the endpoint to be disabled", intervalMs: 500 },
    );
    expect(ep.disabled_reason).to.match(/failed since .* \(last: HTTP 500\)/);
    const metrics = await (await fetch(`${platform.url}/metrics`)).text();
    expect(metrics).to.match(/switchyard_webhook_deliveries_total\{outcome="succeeded"\} [1-9]/);
    expect(metrics).to.match(/switchyard_webhook_deliveries_total\{outcome="dead"\} [1-9]/);
    expect(metrics).to.match(/switchyard_webhook_delivery_lag_seconds_count [1-9]/);
    // Disabled: nothing more is sent to it.
    const before = failing.receiver.all.length;
    const id = (await alpha.post("/v1/payments", paymentBody({ number: CARDS.success }))).body.id;
    const other = await endpoint("m_alpha", ["payment.authorized"]);
    await alpha.post("/v1/payments", paymentBody({ number: CARDS.success }));
    await waitFor(() => other.receiver.ok().length >= 1, {
      timeoutMs: 10_000,
      what: "a healthy endpoint's delivery",
    });
    expect(failing.receiver.all.filter((x) => x.event.data.object.id === id)).to.have.length(0);
    expect(failing.receiver.all.length).to.be.at.most(before + 1);
  });

  it("looks less and less often for work nothing woke it for while idle, and still sends a new payment's events at once", async () => {
    const quiet = await endpoint("m_beta", ["payment.authorized"]);
    await beta.post("/v1/payments", paymentBody({ number: CARDS.success }));
    await waitFor(() => quiet.receiver.ok().length === 1, { timeoutMs: 10_000, what: "the first delivery" });
    // A measured idle window: the sender's claim queries in it are its periodic looks.
    const wire = countWire(platform.infra!);
    await new Promise((r) => setTimeout(r, 4_000));
    const claims = Object.entries(wire.read().pg.byStatement)
      .filter(([statement]) => statement.startsWith("with due as"))
      .reduce((n, [, count]) => n + count, 0);
    wire.stop();
    // SWITCHYARD_WEBHOOK_POLL_MS is 100 here: a look every 100 ms would be ~40; backing off to 2 s, ~6.
    expect(claims, "claim queries in 4 idle seconds").to.be.at.most(10);
    // Stored by this process's dispatcher, which wakes the sender: no wait for the next look.
    await beta.post("/v1/payments", paymentBody({ number: CARDS.success }));
    await waitFor(() => quiet.receiver.ok().length === 2, {
      timeoutMs: 1_500,
      what: "the next delivery, well before a 2 s look",
    });
  });
});
