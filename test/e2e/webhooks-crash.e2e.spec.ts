// A dispatcher killed mid-flow loses nothing: payments are made with webhooks off, then a worker
// process with webhooks on starts dispatching and sending, is SIGKILLed while deliveries are under
// way, and a second one picks up from the durable consumer and the leases. Every event reaches the
// endpoint (at least once), each payment's in order, and the events and deliveries are stored once.
import { expect } from "chai";
import type postgres from "postgres";
import { paymentBody, startTestPlatform, testEnv, type TestPlatform } from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";
import { createEndpoint, runSql, startReceiver, type Receiver } from "../support/webhooks.ts";
import { startWorkerProcess, type WorkerProcess } from "../support/worker-process.ts";

describe("webhooks: a killed dispatcher loses nothing (e2e)", function () {
  this.timeout(90_000);
  let platform: TestPlatform;
  let env: Record<string, string>;
  let sql: postgres.Sql;
  let receiver: Receiver;
  const workers: WorkerProcess[] = [];

  before(async () => {
    env = testEnv({
      SWITCHYARD_WEBHOOKS: "off",
      SWITCHYARD_WEBHOOK_POLL_MS: "100",
      SWITCHYARD_WEBHOOK_TIMEOUT_MS: "1000",
      SWITCHYARD_WEBHOOK_CONCURRENCY: "4",
    });
    platform = await startTestPlatform({ env });
    sql = runSql(env);
    const key: { secret?: string } = {};
    receiver = await startReceiver(() => key.secret);
    key.secret = (await createEndpoint(sql, env, { merchantId: "m_alpha", url: receiver.url })).secret;
  });
  after(async () => {
    for (const w of workers) w.kill();
    await receiver?.close();
    await sql?.end({ timeout: 1 });
    await platform?.cleanup();
  });

  it("delivers every event in order per payment after a SIGKILL and a restart", async () => {
    const api = platform.api(platform.merchants[0]!);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const id = (await api.post("/v1/payments", paymentBody())).body.id;
      expect((await api.post(`/v1/payments/${id}/capture`, {})).status).to.equal(200);
      ids.push(id);
    }
    // Slow answers, so that the kill lands with deliveries claimed and in flight.
    receiver.delay(150);
    const first = startWorkerProcess({ ...env, SWITCHYARD_WEBHOOKS: "on" }, "worker-1");
    workers.push(first);
    await first.ready;
    await waitFor(() => receiver.ok().length >= 4, { timeoutMs: 20_000, what: "the first deliveries" });
    first.child.kill("SIGKILL");
    await first.exited;
    const got = receiver.all.length;
    expect(got).to.be.below(24);

    receiver.delay(0);
    const second = startWorkerProcess({ ...env, SWITCHYARD_WEBHOOKS: "on" }, "worker-2");
    workers.push(second);
    await second.ready;
    await waitFor(() => new Set(receiver.ok().map((r) => r.id)).size >= 24, {
      timeoutMs: 30_000,
      what: "all 24 events delivered",
    });
    for (const id of ids) {
      // The first arrival of each event, in arrival order: the payment's order.
      const seen = [
        ...new Set(
          receiver
            .ok()
            .filter((r) => r.event.data.object.id === id)
            .map((r) => r.event.type),
        ),
      ];
      expect(seen, id).to.deep.equal(["payment.authorized", "payment.captured"]);
    }
    const counts = await waitFor(
      async () => {
        const [c] = await sql<{ events: number; deliveries: number; pending: number }[]>`
          select (select count(*)::int from webhook_events) as events,
            (select count(*)::int from webhook_deliveries where origin = 'stream') as deliveries,
            (select count(*)::int from webhook_deliveries where status <> 'succeeded') as pending`;
        return c?.pending === 0 ? c : undefined;
      },
      { timeoutMs: 5_000, what: "every delivery recorded as succeeded" },
    );
    expect(counts).to.deep.equal({ events: 24, deliveries: 24, pending: 0 });
    // At least once: only what was in flight at the kill may have come twice.
    expect(receiver.ok().length - 24).to.be.at.most(4);
  });
});
