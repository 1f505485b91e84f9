// The platform's life cycle end to end, all roles in the test process: snapshots written and a
// passivated actor rebuilt from JetStream alone after Redis lost everything of this run, metrics
// after traffic, readiness. Everything real: HTTP, NATS JetStream, Redis. (Worker processes, their
// shutdown and logs: lifecycle.e2e.spec.ts.)
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import { Redis } from "ioredis";
import { eventSubject, snapshotKey, topology, type Topology } from "../../streams/topology.ts";
import { NATS_URL, REDIS_URL } from "../support/infra.ts";
import { parseMetrics, series, type Sample } from "../support/prometheus.ts";
import {
  CARDS,
  paymentBody,
  startTestPlatform,
  testEnv,
  type Api,
  type TestPlatform,
} from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";

describe("platform lifecycle: snapshots, Redis flush, metrics, readiness (e2e)", function () {
  this.timeout(30_000);
  let platform: TestPlatform;
  let api: Api;
  let topo: Topology;
  let redis: Redis;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  before(async () => {
    const env = testEnv({ SWITCHYARD_SNAPSHOT_EVERY: "1", SWITCHYARD_PASSIVATE_AFTER_MS: "300" });
    platform = await startTestPlatform({ env });
    api = platform.api(platform.merchants[0]!);
    topo = topology(env.SWITCHYARD_PREFIX!, Number(env.SWITCHYARD_PARTITIONS));
    redis = new Redis(REDIS_URL);
    nc = await connect({ servers: NATS_URL });
    jsm = await jetstreamManager(nc);
  });

  after(async () => {
    redis?.disconnect();
    await nc?.close();
    await platform?.cleanup();
  });

  /** Every Redis key of this run: the run's prefix, never anything of the runs it overlaps with. */
  async function runKeys(): Promise<string[]> {
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await redis.scan(cursor, "MATCH", `${topo.redisPrefix}*`, "COUNT", 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== "0");
    return keys;
  }

  async function liveActors(): Promise<number | undefined> {
    const gauge = platform.metrics.registry.getSingleMetric("switchyard_live_actors");
    return (await gauge?.get())?.values[0]?.value;
  }

  async function scrape(): Promise<{ status: number; type: string | null; samples: Sample[] }> {
    const res = await fetch(`${platform.url}/metrics`);
    return {
      status: res.status,
      type: res.headers.get("content-type"),
      samples: parseMetrics(await res.text()),
    };
  }

  it("keeps a snapshot, passivates, and rebuilds the payment from JetStream alone after Redis loses it", async () => {
    const created = await api.post("/v1/payments", paymentBody({ amount: 1000 }));
    expect(created.body.status).to.equal("authorized");
    const id = created.body.id;
    expect((await api.post(`/v1/payments/${id}/capture`, {})).body.status).to.equal("captured");
    const refunded = await api.post(`/v1/payments/${id}/refunds`, { amount: 300 });
    expect(refunded.body).to.include({ status: "partially_refunded", refunded_amount: 300 });

    // A snapshot of the latest state, at the sequence of the payment's last event.
    const key = snapshotKey(topo, id);
    const last = await jsm.direct.getMessage(topo.eventStream, { last_by_subj: eventSubject(topo, id) });
    const stored = await redis.hgetall(key);
    expect(Number(stored.seq), "snapshot sequence").to.equal(last!.seq);
    const snap = JSON.parse(stored.body!) as {
      seq: number;
      state: { status: string; refundedAmount: number };
    };
    expect(snap.state).to.include({ status: "partially_refunded", refundedAmount: 300 });

    await waitFor(async () => (await liveActors()) === 0, {
      timeoutMs: 5_000,
      what: "the actor to passivate",
    });
    const before = await api.get(`/v1/payments/${id}`);
    expect(before.status).to.equal(200);

    // FLUSHALL, limited to this run.
    const keys = await runKeys();
    expect(keys).to.include(key);
    await redis.del(...keys);
    expect(await runKeys()).to.be.empty;

    const after = await api.get(`/v1/payments/${id}`);
    expect(after.status).to.equal(200);
    expect(after.body).to.deep.equal(before.body);

    // The actor comes back with nothing in Redis: what it knows, it read from JetStream.
    const more = await api.post(`/v1/payments/${id}/refunds`, { amount: 200 });
    expect(more.status).to.equal(200);
    expect(more.body).to.include({
      status: "partially_refunded",
      captured_amount: 1000,
      refunded_amount: 500,
    });
    const tooMuch = await api.post(`/v1/payments/${id}/refunds`, { amount: 501 });
    expect(tooMuch.status).to.equal(422);
    const rest = await api.post(`/v1/payments/${id}/refunds`, { amount: 500 });
    expect(rest.body).to.include({ status: "refunded", refunded_amount: 1000 });
    expect((await api.get(`/v1/payments/${id}`)).body).to.deep.equal(rest.body);
    const charges = platform.sandbox!.charges({ reference: id });
    expect(charges).to.have.length(1);
    expect(charges[0]).to.include({ capturedAmount: 1000, refundedAmount: 1000 });
    // And snapshots are written again, from the rebuilt state.
    const again = JSON.parse((await redis.hget(key, "body"))!) as { state: { refundedAmount: number } };
    expect(again.state.refundedAmount).to.equal(1000);
  });

  it("exposes the platform's metrics after traffic", async () => {
    const manual = await api.post("/v1/payments", paymentBody());
    expect(manual.body.status).to.equal("authorized");
    const automatic = await api.post("/v1/payments", paymentBody({ capture: "automatic" }));
    expect(automatic.body.status).to.equal("captured");
    const declined = await api.post("/v1/payments", paymentBody({ number: CARDS.hardDecline }));
    expect(declined.body.status).to.equal("declined");
    expect((await api.get(`/v1/payments/${manual.body.id}`)).status).to.equal(200);

    // The consumer lag is first observed a few seconds after start-up, one partition after another.
    const { status, type, samples } = await waitFor(
      async () => {
        const s = await scrape();
        const observed = series(s.samples, "switchyard_consumer_pending_messages").length;
        return observed === topo.partitions ? s : undefined;
      },
      { timeoutMs: 8_000, what: "switchyard_consumer_pending_messages of every partition" },
    );
    expect(status).to.equal(200);
    expect(type).to.contain("text/plain");
    const value = (name: string, labels: Record<string, string>) =>
      series(samples, name, labels).reduce((sum, s) => sum + s.value, 0);

    for (const s of ["authorized", "captured", "declined"])
      expect(value("switchyard_payments_total", { status: s }), `payments ${s}`).to.be.at.least(1);
    expect(
      value("switchyard_command_duration_seconds_count", { type: "CreatePayment", result: "ok" }),
    ).to.be.at.least(3);
    expect(
      value("switchyard_psp_request_duration_seconds_count", {
        psp: "acme",
        operation: "authorize",
        outcome: "authorized",
      }),
    ).to.be.at.least(2);
    expect(
      value("switchyard_psp_request_duration_seconds_count", { psp: "acme", outcome: "declined" }),
    ).to.be.at.least(1);
    expect(series(samples, "switchyard_live_actors")).to.have.length(1);
    const pending = series(samples, "switchyard_consumer_pending_messages");
    expect(pending.map((s) => s.labels.partition).sort()).to.deep.equal(["0", "1", "2", "3"]);
    expect(
      value("switchyard_http_request_duration_seconds_count", {
        method: "POST",
        route: "/v1/payments",
        status: "201",
      }),
    ).to.be.at.least(3);
    // A route pattern, never a raw URL with an id in it.
    const routes = series(samples, "switchyard_http_request_duration_seconds_count").map(
      (s) => s.labels.route,
    );
    expect(routes).to.include("/v1/payments/:id");
    expect(routes.filter((r) => r?.includes(manual.body.id))).to.be.empty;
  });

  it("is ready when NATS, JetStream and Redis answer", async () => {
    const res = await fetch(`${platform.url}/readyz`);
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal({
      status: "ready",
      checks: { nats: "ok", jetstream: "ok", redis: "ok", psp_notifications: "ok" },
    });
  });
});
