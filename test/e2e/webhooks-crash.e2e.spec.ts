// A dispatcher killed mid-flow loses nothing: payments are made with webhooks off, then a worker
// process with webhooks on starts dispatching and sending, is SIGKILLed while deliveries are under
// way, and a second one picks up from the committed position and the leases. Every event reaches the
// endpoint (at least once), each payment's in order, and the events and deliveries are stored once.
// No timing decides what happens: the endpoint answers the first deliveries and then holds every
// later one open, so the kill lands with deliveries certainly in flight and none of them answered.
import { expect } from "chai";
import type postgres from "postgres";
import { paymentBody, startTestPlatform, testEnv, type TestPlatform } from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";
import { runSql, startEndpointReceiver, type Receiver } from "../support/webhooks.ts";
import { startWorkerProcess, type WorkerProcess } from "../support/worker-process.ts";

/** Deliveries the endpoint answers before it holds every later one open. */
const ANSWERED = 4;
/** Deliveries a sender has in flight at most (SWITCHYARD_WEBHOOK_CONCURRENCY). */
const SENDS = 4;

describe("webhooks: a killed dispatcher loses nothing (e2e)", function () {
  this.timeout(90_000);
  let platform: TestPlatform;
  let env: Record<string, string>;
  let sql: postgres.Sql;
  let receiver: Receiver;
  const workers: WorkerProcess[] = [];
  const succeeded = async () =>
    (
      await sql<{ n: number }[]>`select count(*)::int as n from webhook_deliveries where status = 'succeeded'`
    )[0]!.n;

  before(async () => {
    env = testEnv({
      SWITCHYARD_WEBHOOKS: "off",
      SWITCHYARD_WEBHOOK_POLL_MS: "100",
      // Longer than the kill takes, so a held delivery is still in flight when it lands; the lease of
      // a killed sender's claim (twice this and a second) is what the second worker waits out.
      SWITCHYARD_WEBHOOK_TIMEOUT_MS: "3000",
      SWITCHYARD_WEBHOOK_CONCURRENCY: String(SENDS),
    });
    platform = await startTestPlatform({ env });
    sql = runSql(env);
    receiver = await startEndpointReceiver(sql, env, "m_alpha");
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
    // The first ANSWERED deliveries are answered; every later one is held open (in flight).
    receiver.holdFrom(ANSWERED);
    const first = startWorkerProcess({ ...env, SWITCHYARD_WEBHOOKS: "on" }, "worker-1");
    workers.push(first);
    await first.ready;
    // Those answered are recorded as succeeded (so they are not sent again), and the sender has
    // claimed more, which the endpoint holds: the kill lands with deliveries under way.
    await waitFor(async () => (await succeeded()) >= ANSWERED && receiver.held() > 0, {
      timeoutMs: 20_000,
      what: `${ANSWERED} deliveries recorded as succeeded and more held in flight`,
    });
    first.child.kill("SIGKILL");
    await first.exited;
    // Its connections closed: whatever it sent before it died has been read (and held).
    await waitFor(async () => (await receiver.connections()) === 0, {
      timeoutMs: 5_000,
      what: "the killed worker's connections to the endpoint to close",
    });
    // Everything the first worker sent after those was held, never answered: each must come again.
    const inFlight = receiver.all.length - ANSWERED;
    expect(inFlight, "deliveries in flight at the kill").to.be.within(1, SENDS);
    expect(await succeeded()).to.equal(ANSWERED);
    receiver.release();

    const second = startWorkerProcess({ ...env, SWITCHYARD_WEBHOOKS: "on" }, "worker-2");
    workers.push(second);
    await second.ready;
    await waitFor(() => new Set(receiver.ok().map((r) => r.id)).size >= 24, {
      timeoutMs: 30_000,
      what: "all 24 events delivered (answered)",
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
    // Each event answered once; at least once, and only what was in flight at the kill came twice.
    expect(receiver.ok()).to.have.length(24);
    expect(receiver.all.length - 24).to.equal(inFlight);
  });
});
