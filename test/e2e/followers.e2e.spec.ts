// Followers that cannot apply a frame set it aside and go on (issue 16, item 1). The edges refuse a
// NUL or a lone surrogate before anything is appended, so the poison frames are put straight onto the
// run's PAY_EVT (and SETTLE) as a writer that got past them would: the payments read model, the
// webhook dispatcher and the settlement follower each set theirs aside — listed on /ops, counted —
// and a later payment still reaches the merchant's list, the ledger and the webhook events; lag is
// measured from the stream's head; a rebuild not yet caught up answers 503, not an empty ledger.
import { randomBytes } from "node:crypto";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import { createMetrics } from "../../config/metrics.ts";
import { encode } from "../../streams/envelopes.ts";
import { EventStore } from "../../streams/event-store.ts";
import { eventSubject, settleSubject, topology, type Topology } from "../../streams/topology.ts";
import { paymentCreated } from "../support/events.ts";
import { NATS_URL } from "../support/infra.ts";
import { paymentBody, startTestPlatform, type TestPlatform } from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";

type SetAside = { follower: string; seq: number; subject: string; code: string; reason: string };
type ReadModel = { name: string; status: string; position: number; set_aside: number };
type Trial = { balanced: boolean; complete: boolean; set_aside: number; accounts: unknown[] };

describe("followers set aside what they cannot apply (e2e)", function () {
  this.timeout(90_000);
  let platform: TestPlatform;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let topo: Topology;
  let events: EventStore;

  before(async () => {
    platform = await startTestPlatform();
    nc = await connect({ servers: NATS_URL });
    jsm = await jetstreamManager(nc);
    topo = topology(platform.config.prefix, platform.config.partitions);
    events = new EventStore(jetstream(nc), jsm, topo, createMetrics());
  });
  after(async () => {
    await nc?.close();
    await platform?.cleanup();
  });

  const merchant = () => platform.api(platform.merchants[0]!);
  const gauge = async (name: string, readModel: string) => {
    const m = await platform.metrics.registry.getSingleMetric(name)?.get();
    return m?.values.find((v) => v.labels.read_model === readModel)?.value;
  };
  const setAsideCount = async (follower: string) => {
    const m = await platform.metrics.registry
      .getSingleMetric("switchyard_follower_frames_set_aside_total")
      ?.get();
    return m?.values.find((v) => v.labels.follower === follower)?.value ?? 0;
  };
  const listed = async (follower: string) => {
    const res = await platform.ops.get<{ set_aside: SetAside[] }>(
      `/ops/read-models/set-aside?follower=${follower}`,
    );
    return res.status === 200 ? res.body.set_aside : [];
  };
  /**
   * A payment created and failed in one frame (so that its merchant hears of it: a webhook event),
   * with text PostgreSQL refuses in `fields`, appended as a writer past the edges would.
   */
  async function poison(fields: { reference?: string; metadata?: Record<string, string> }) {
    const id = `pay_poison_${randomBytes(6).toString("hex")}`;
    const at = new Date().toISOString();
    const created = {
      ...paymentCreated(id, at),
      merchantId: platform.merchants[0]!.merchantId,
      ...fields,
    };
    const failed = { type: "PaymentFailed", code: "no_route", at };
    const { seq } = await events.append(id, { lastSeq: 0, eventNo: 0 }, [created, failed]);
    return { id, seq };
  }

  it("sets aside a payment frame with a NUL or a lone surrogate and goes on: list, ledger, webhooks, lag", async () => {
    const nul = await poison({ reference: "a\u0000b" });
    const surrogate = await poison({ metadata: { note: "a\ud800b" } });
    const good = await merchant().post("/v1/payments", paymentBody({ capture: "automatic" }));
    expect(good.status, JSON.stringify(good.body)).to.equal(201);

    // The merchant's list (the search read model) has the later payment: the follower went on.
    await waitFor(
      async () => {
        const res = await merchant().get("/v1/payments?limit=100");
        const data = (res.body as unknown as { data?: Array<{ id: string }> }).data ?? [];
        return data.some((p) => p.id === good.body.id);
      },
      { timeoutMs: 20_000, what: "the payment created after the poison frames in the merchant's list" },
    );

    // Both frames recorded for operators, with what PostgreSQL answered, and counted.
    const payments = await waitFor(
      async () => {
        const rows = await listed("payments");
        return rows.length >= 2 && rows;
      },
      { timeoutMs: 10_000, what: "the payments follower's frames listed as set aside" },
    );
    const bySeq = new Map(payments.map((r) => [r.seq, r]));
    expect(bySeq.get(nul.seq)?.code, JSON.stringify(payments)).to.match(/^(22021|22P05|undecodable)$/);
    expect(bySeq.get(surrogate.seq)?.code, JSON.stringify(payments)).to.match(/^(22P02|22P05|undecodable)$/);
    expect(bySeq.get(nul.seq)?.subject).to.equal(eventSubject(topo, nul.id));
    expect(bySeq.get(nul.seq)?.reason).to.not.include("\u0000");
    expect(await setAsideCount("payments")).to.be.at.least(2);

    // The ledger has the later capture, and says it is incomplete rather than simply balanced.
    await platform.readModels!.caughtUp("payments");
    const trial = await platform.ops.get<Trial>("/ops/ledger/trial-balance");
    expect(trial.status, JSON.stringify(trial.body)).to.equal(200);
    expect(trial.body.accounts).to.not.be.empty;
    expect(trial.body.complete).to.equal(false);
    expect(trial.body.set_aside).to.be.at.least(2);

    // Lag from the stream's head: nothing past the position, so nothing behind.
    await platform.readModels!.measureLag();
    expect(await gauge("switchyard_read_model_behind_messages", "payments")).to.equal(0);
    expect(await gauge("switchyard_read_model_lag_seconds", "payments")).to.equal(0);

    // The webhook dispatcher set aside the frame whose event PostgreSQL refuses, and went on past it.
    const last = await jsm.streams.getMessage(topo.eventStream, {
      last_by_subj: eventSubject(topo, good.body.id),
    });
    await waitFor(
      async () => {
        const [row] = await platform.infra!.db.sql<{ last_seq: number }[]>`
          select last_seq from projection_offsets where name = 'webhooks'`;
        return (row?.last_seq ?? 0) >= (last?.seq ?? Infinity);
      },
      { timeoutMs: 20_000, what: "the webhook dispatcher's position past the poison frames" },
    );
    const webhooks = await listed("webhooks");
    expect(webhooks.map((r) => r.seq)).to.include.members([nul.seq, surrogate.seq]);
    expect(await setAsideCount("webhooks")).to.be.at.least(2);
  });

  it("sets aside a settlement record PostgreSQL refuses, and the settlement read model goes on", async () => {
    const js = jetstream(nc);
    const chunk = (reportId: string, reason: string) =>
      encode({
        type: "chunk",
        v: 1,
        psp: "acme",
        reportId,
        chunkNo: 1,
        lines: [],
        rejected: [{ lineNo: 2, reason }],
      });
    const bad = await js.publish(settleSubject(topo, "acme", "r-nul"), chunk("r-nul", "x\u0000y"));
    const next = await js.publish(settleSubject(topo, "acme", "r-ok"), chunk("r-ok", "bad amount"));
    await waitFor(() => platform.readModels!.followers.get("settlement")!.position >= next.seq, {
      timeoutMs: 20_000,
      what: "the settlement read model past the record after the poison one",
    });
    const res = await platform.ops.get<{ read_models: ReadModel[] }>("/ops/read-models");
    const settlement = res.body.read_models.find((r) => r.name === "settlement");
    expect(settlement).to.include({ status: "ready", set_aside: 1 });
    expect(settlement?.position).to.be.at.least(next.seq);
    const rows = await listed("settlement");
    expect(rows.map((r) => [r.seq, r.code])).to.deep.include([bad.seq, "22021"]);
    expect(await setAsideCount("settlement")).to.be.at.least(1);
  });

  it("exports every followed stream's stall count from 0, so that a first stall is an increase", async () => {
    const m = await platform.metrics.registry.getSingleMetric("switchyard_stream_reader_stalls_total")?.get();
    const counts = Object.fromEntries((m?.values ?? []).map((v) => [String(v.labels.stream), v.value]));
    expect(counts).to.deep.equal({ [topo.eventStream]: 0, [topo.settleStream]: 0, [topo.reconStream]: 0 });
  });

  it("measures lag from the stream's head: a stopped follower's lag grows", async () => {
    await platform.readModels!.followers.get("payments")!.stop();
    const res = await merchant().post("/v1/payments", paymentBody());
    expect(res.status).to.equal(201);
    await waitFor(
      async () =>
        ((await gauge("switchyard_read_model_lag_seconds", "payments")) ?? 0) >= 1 &&
        ((await gauge("switchyard_read_model_behind_messages", "payments")) ?? 0) >= 1,
      { timeoutMs: 20_000, what: "the stopped payments read model's lag to grow past 1 s" },
    );
  });

  it("answers 503 read_model_rebuilding for the ledger and the lists while a rebuild has not caught up", async () => {
    // The payments follower is stopped (above): the rebuild cannot catch up.
    await platform.readModels!.followers.get("payments")!.stop();
    const rebuilt = await platform.ops.post("/ops/read-models/all/rebuild");
    expect(rebuilt.status).to.equal(202);
    const trial = await platform.ops.get<Trial>("/ops/ledger/trial-balance");
    expect(trial.status, JSON.stringify(trial.body)).to.equal(503);
    expect(trial.body.error?.code).to.equal("read_model_rebuilding");
    const state = await platform.ops.get<{ read_models: ReadModel[] }>("/ops/read-models");
    expect(state.body.read_models.find((r) => r.name === "payments")?.status).to.equal("rebuilding");
    const exported = await platform.ops.get(
      "/ops/ledger/export?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&format=jsonl",
    );
    expect(exported.status).to.equal(503);
    // The lists read the same read model: not a list without most payments.
    const list = await merchant().get("/v1/payments");
    expect(list.status).to.equal(503);
    expect(list.body.error.code).to.equal("read_model_rebuilding");
    expect((await platform.ops.get("/ops/payments?limit=5")).status).to.equal(503);
    expect((await platform.ops.get("/ops/payments/stuck")).status).to.equal(503);
  });
});
