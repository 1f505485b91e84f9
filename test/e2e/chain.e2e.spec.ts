// Tamper-evident history end to end: payments made through the whole platform leave chained frames
// (each `prev` the hash of the stored bytes before it, the first the genesis), the chain carries on
// after a restart whatever Redis holds (a snapshot, an old-format one, a foreign one, none), and an
// event edited in JetStream behind the platform's back is named by the verifier and by
// `npm run audit:verify` run as a child process.
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import { Redis } from "ioredis";
import { chainHash, genesisHash } from "../../streams/chain.ts";
import { auditEventChains } from "../../streams/chain-audit.ts";
import { eventSubject, snapshotKey, topology, type Topology } from "../../streams/topology.ts";
import { runScript } from "../support/cli.ts";
import { NATS_URL, REDIS_URL } from "../support/infra.ts";
import {
  cleanupRun,
  paymentBody,
  startTestPlatform,
  testEnv,
  type Api,
  type TestPlatform,
} from "../support/platform.ts";

type Stored = { seq: number; data: Uint8Array; frame: { v: number; prev?: string; events: unknown[] } };

describe("tamper-evident history (e2e)", function () {
  this.timeout(60_000);
  const env = testEnv({ SWITCHYARD_SNAPSHOT_EVERY: "1" });
  let platform: TestPlatform | undefined;
  let api: Api;
  let topo: Topology;
  let redis: Redis;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  const ids: string[] = [];

  before(async () => {
    platform = await startTestPlatform({ env });
    api = platform.api(platform.merchants[0]!);
    topo = topology(env.SWITCHYARD_PREFIX!, Number(env.SWITCHYARD_PARTITIONS));
    redis = new Redis(REDIS_URL);
    nc = await connect({ servers: NATS_URL });
    js = jetstream(nc);
    jsm = await jetstreamManager(nc);
  });

  after(async () => {
    redis?.disconnect();
    await nc?.close();
    await platform?.stop();
    await cleanupRun(env);
  });

  /** Every frame of a payment's subject, oldest first, with its exact stored bytes. */
  async function framesOf(id: string): Promise<Stored[]> {
    const out: Stored[] = [];
    for (let seq = 0; ;) {
      const msg = await jsm.direct.getMessage(topo.eventStream, {
        seq: seq + 1,
        next_by_subj: eventSubject(topo, id),
      });
      if (!msg) return out;
      out.push({ seq: msg.seq, data: msg.data, frame: msg.json() });
      seq = msg.seq;
    }
  }

  async function expectChained(id: string): Promise<Stored[]> {
    const frames = await framesOf(id);
    expect(frames.length, `frames of ${id}`).to.be.greaterThan(1);
    frames.forEach((f, i) => {
      expect(f.frame.v, `frame ${i} of ${id}`).to.equal(2);
      const expected = i === 0 ? genesisHash(id) : chainHash(frames[i - 1]!.data);
      expect(f.frame.prev, `prev of frame ${i} of ${id}`).to.equal(expected);
    });
    return frames;
  }

  const runAudit = () => runScript("scripts/audit-verify.ts", [], env);

  it("chains every frame a payment writes to the stored bytes before it, the first to the genesis", async () => {
    for (let i = 0; i < 5; i++) {
      const res = await api.post("/v1/payments", paymentBody({ amount: 1000 + i }));
      expect(res.body.status).to.equal("authorized");
      ids.push(res.body.id);
    }
    const captured = await api.post(`/v1/payments/${ids[0]!}/capture`, {});
    expect(captured.body.status).to.equal("captured");
    for (const id of ids) {
      const frames = await expectChained(id);
      // The snapshot keeps the hash of the frame it was taken at: the next append's `prev`.
      const snap = JSON.parse((await redis.hget(snapshotKey(topo, id), "body"))!) as {
        seq: number;
        lastHash: string;
      };
      expect(snap.seq).to.equal(frames.at(-1)!.seq);
      expect(snap.lastHash).to.equal(chainHash(frames.at(-1)!.data));
    }
  });

  it("keeps the chain after a restart from a snapshot, an old-format one, a foreign one and none", async () => {
    await platform!.stop();
    platform = undefined;
    const [, withSnap, oldFormat, foreign, none] = ids as [string, string, string, string, string];
    const edit = async (id: string, change: (body: Record<string, unknown>) => void) => {
      const key = snapshotKey(topo, id);
      const body = JSON.parse((await redis.hget(key, "body"))!) as Record<string, unknown>;
      change(body);
      await redis.hset(key, "body", JSON.stringify(body));
    };
    await edit(oldFormat, (b) => delete b.lastHash);
    await edit(foreign, (b) => (b.lastHash = "0".repeat(64)));
    await redis.del(snapshotKey(topo, none));

    platform = await startTestPlatform({ env });
    api = platform.api(platform.merchants[0]!);
    for (const id of [withSnap, oldFormat, foreign, none]) {
      const res = await api.post(`/v1/payments/${id}/capture`, { amount: 500 });
      expect(res.body, id).to.include({ status: "captured", captured_amount: 500 });
      await expectChained(id);
    }
    // The foreign snapshot was seen for what it is and replaced by a replay (by the gateway, which
    // reads the payment before sending the capture, and by the worker).
    const failures = platform.metrics.registry.getSingleMetric("switchyard_snapshot_failures_total");
    const mismatches = (await failures!.get()).values.find((v) => v.labels.op === "mismatch");
    expect(mismatches?.value).to.be.at.least(1);
    const verifier = await auditEventChains(js, jsm, topo);
    expect(verifier.breaks).to.deep.equal([]);
    expect(verifier.summary()).to.include({ payments: ids.length, legacy: 0, breaks: 0 });

    const cli = await runAudit();
    expect(cli.code, cli.stderr).to.equal(0);
    expect(cli.stdout).to.match(
      /^audit: intact: \d+ frames, 5 payments, 0 legacy frames \(unchained\), 0 breaks/,
    );
  });

  it("names the payment and the frame whose stored event was edited behind the platform's back", async () => {
    await platform!.stop();
    platform = undefined;
    const victim = ids[0]!;
    const subject = eventSubject(topo, victim);
    const frames = await framesOf(victim);
    expect(frames.length).to.be.greaterThan(2);
    // Rewrite the history: purge the subject, store it again with the created amount changed in
    // the first frame (its `prev` kept, so that frame alone still looks fine).
    await jsm.streams.purge(topo.eventStream, { filter: subject });
    const republished: number[] = [];
    for (const [i, f] of frames.entries()) {
      let data = f.data;
      if (i === 0) {
        const json = JSON.parse(Buffer.from(f.data).toString("utf8")) as {
          events: Array<{ type: string; amount?: number }>;
        };
        const created = json.events.find((e) => e.type === "PaymentCreated")!;
        created.amount = 1;
        data = Buffer.from(JSON.stringify(json));
      }
      republished.push((await js.publish(subject, data)).seq);
    }

    const verifier = await auditEventChains(js, jsm, topo);
    expect(verifier.breaks).to.have.length(1);
    expect(verifier.breaks[0]).to.include({
      kind: "mismatch",
      paymentId: victim,
      seq: republished[1],
      prevSeq: republished[0],
      found: chainHash(frames[0]!.data),
    });

    const cli = await runAudit();
    expect(cli.code, cli.stderr).to.equal(1);
    const lines = cli.stdout.trim().split("\n");
    expect(lines).to.have.length(2);
    expect(lines[0]).to.include(
      `BREAK mismatch payment=${victim} seq=${republished[1]} prev_seq=${republished[0]}`,
    );
    expect(lines[1]).to.match(
      /^audit: BROKEN: \d+ frames, 5 payments, 0 legacy frames \(unchained\), 1 breaks/,
    );
    for (const other of ids.slice(1)) expect(cli.stdout).to.not.include(other);
  });
});
