// PAY_OUT, the merchant events feed (actors/webhooks/merchant-feed.ts), with its projector SIGKILLed
// under load and started again: every merchant event of every payment (create → capture → partial
// refund: payment.authorized, payment.captured, refund.succeeded) is on `pay.out.<merchant>.<payment>`
// exactly once, in the payment's order, with the webhook's body and msg id = event id. Then the
// publisher's position is thrown back to 0 (as a crash between publishing and moving it would leave
// it, later than the stream's duplicate window) and a projector started again publishes nothing: it
// resumes past the stream's own last message, not only on the duplicate window.
import { expect } from "chai";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type postgres from "postgres";
import { MERCHANT_FEED } from "../../actors/webhooks/merchant-feed.ts";
import { WEBHOOKS_FOLLOWER } from "../../actors/webhooks/dispatcher.ts";
import { merchantEventSubject, topology, type Topology } from "../../streams/topology.ts";
import { NATS_URL } from "../support/infra.ts";
import { startTestPlatform, testEnv, type TestPlatform } from "../support/platform.ts";
import { parseMetrics, series } from "../support/prometheus.ts";
import { startPaymentLoad } from "../support/payment-load.ts";
import { waitFor } from "../support/wait.ts";
import { runSql } from "../support/webhooks.ts";
import { startProjectorProcess, type WorkerProcess } from "../support/worker-process.ts";

const EVENTS = ["payment.authorized", "payment.captured", "refund.succeeded"];
const CLIENTS = 4;

type Out = { seq: number; subject: string; msgId: string; id: string; type: string; body: string };

describe("the merchant events feed (PAY_OUT) with its projector killed (e2e)", function () {
  this.timeout(150_000);
  let platform: TestPlatform;
  let env: Record<string, string>;
  let sql: postgres.Sql;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let t: Topology;
  const projectors: WorkerProcess[] = [];

  const startProjector = async (name: string) => {
    const p = startProjectorProcess({ ...env, SANDBOX_URL: platform.sandbox!.url }, name);
    projectors.push(p);
    await p.ready;
    return p;
  };
  const outCount = async () => (await jsm.streams.info(t.merchantEventStream)).state.messages;
  const positionOf = async (name: string) => {
    const [row] = await sql<
      { last_seq: string }[]
    >`select last_seq from projection_offsets where name = ${name}`;
    return Number(row?.last_seq ?? 0);
  };

  before(async () => {
    env = testEnv({
      SWITCHYARD_PROJECTIONS: "off",
      SWITCHYARD_PROJECTOR_METRICS_PORT: "0",
      SWITCHYARD_WEBHOOK_POLL_MS: "100",
    });
    platform = await startTestPlatform({ env });
    sql = runSql(env);
    t = topology(env.SWITCHYARD_PREFIX!, 1);
    nc = await connect({ servers: NATS_URL });
    jsm = await jetstreamManager(nc);
  });

  after(async () => {
    for (const p of projectors) p.kill();
    await Promise.all(projectors.map((p) => p.exited));
    await nc?.close();
    await sql?.end({ timeout: 1 });
    await platform?.cleanup();
  });

  it("holds every merchant event once, in order, across a SIGKILL and a restart", async () => {
    const api = platform.api(platform.merchants[0]!);
    const first = await startProjector("projector-1");
    const load = startPaymentLoad(api, CLIENTS, { amount: 2500, refund: 1000 });
    try {
      await waitFor(async () => (await outCount()) >= 15, {
        timeoutMs: 30_000,
        what: "15 events on PAY_OUT",
      });
      first.kill();
      await first.exited;
      const atKill = load.made.length;
      await waitFor(() => load.made.length >= atKill + 8, {
        timeoutMs: 30_000,
        what: "8 payments made while down",
      });
      await startProjector("projector-2");
      const atRestart = load.done();
      await waitFor(() => load.done() >= atRestart + 8, { timeoutMs: 30_000, what: "8 more payments done" });
    } finally {
      await load.stop();
    }
    expect(load.failures).to.deep.equal([]);
    const ids = load.made.map((p) => p.id);
    const n = ids.length;
    // Every event stored by the dispatcher, and the feed's position up with the dispatcher's.
    await waitFor(
      async () => {
        const [c] = await sql<{ n: number }[]>`select count(*)::int as n from webhook_events`;
        const webhooks = await positionOf(WEBHOOKS_FOLLOWER);
        return c?.n === EVENTS.length * n && (await positionOf(MERCHANT_FEED)) >= webhooks && webhooks > 0;
      },
      { timeoutMs: 30_000, what: "every event stored and published", intervalMs: 250 },
    );
    const out = await readAll(nc, t);
    expect(out.length, "one message per event, none twice").to.equal(EVENTS.length * n);
    const stored = await sql<{ id: string; payment_id: string; body: string }[]>`
      select id, payment_id, body::text as body from webhook_events order by seq, idx`;
    expect(new Set(out.map((o) => o.msgId)).size).to.equal(out.length);
    expect(out.map((o) => [o.msgId, o.body])).to.deep.equal(stored.map((r) => [r.id, r.body]));
    for (const id of ids) {
      const mine = out.filter((o) => o.subject === merchantEventSubject(t, "m_alpha", id));
      expect(
        mine.map((o) => o.type),
        id,
      ).to.deep.equal(EVENTS);
      for (const o of mine) expect(o.id).to.equal(o.msgId);
    }
  });

  it("resumes past PAY_OUT's last message when its position was not moved", async () => {
    const before = await outCount();
    const reached = await positionOf(MERCHANT_FEED);
    for (const p of projectors) p.kill();
    await Promise.all(projectors.map((p) => p.exited));
    await sql`update projection_offsets set last_seq = 0 where name = ${MERCHANT_FEED}`;
    const third = await startProjector("projector-3");
    await waitFor(async () => (await positionOf(MERCHANT_FEED)) >= reached, {
      timeoutMs: 20_000,
      what: "the feed's position back where it was",
    });
    expect(await outCount()).to.equal(before);
    // Not even offered to the duplicate window: nothing counted as published by this process.
    const url = (await third.waitForLog((l) => l.msg === "projector metrics listening", "its metrics door"))
      .url as string;
    const samples = parseMetrics(await (await fetch(`${url}/metrics`)).text());
    expect(
      series(samples, "switchyard_merchant_feed_events_total", { result: "published" })[0]?.value,
    ).to.equal(0);
    expect(series(samples, "switchyard_merchant_feed_events_total", { result: "failed" })[0]?.value).to.equal(
      0,
    );
  });
});

/** Every message of PAY_OUT, in stream order, through an ordered consumer. */
async function readAll(nc: NatsConnection, t: Topology): Promise<Out[]> {
  const c = await jetstream(nc).consumers.get(t.merchantEventStream, {
    filter_subjects: `${t.merchantEventBase}.>`,
  });
  const out: Out[] = [];
  for (;;) {
    const m = await c.next({ expires: 1_000 });
    if (!m) return out;
    const body = m.json<{ id: string; type: string }>();
    out.push({
      seq: m.seq,
      subject: m.subject,
      msgId: m.headers?.get("Nats-Msg-Id") ?? "",
      id: body.id,
      type: body.type,
      body: m.string(),
    });
  }
}
