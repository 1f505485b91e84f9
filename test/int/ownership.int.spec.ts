// Partition ownership with several workers in one process, on the real nats-server: each "worker"
// is a real command consumer driven by its own Ownership over the same topology and cluster
// buckets. What they must do: split the partitions disjointly and cover them all, hand a partition
// over only once its in-flight command is settled, and stop a partition whose lease lapsed by their
// own clock (a pause) without settling what they had in hand.
import { expect } from "chai";
import { pino } from "pino";
import { dispositionFor } from "../../actors/fate.ts";
import { Ownership } from "../../actors/ownership.ts";
import { targetOf } from "../../actors/cluster/core/rendezvous.ts";
import { createMetrics, type Metrics } from "../../config/metrics.ts";
import { ClusterKv } from "../../streams/cluster.ts";
import { CommandConsumer, type CommandHandler } from "../../streams/command-consumer.ts";
import { DeadLetters } from "../../streams/dead-letters.ts";
import { ack, type ConsumerFate } from "../../streams/disposition.ts";
import { encode } from "../../streams/envelopes.ts";
import { openInfra, type Infra } from "../support/infra.ts";
import { waitFor } from "../support/wait.ts";

const PARTITIONS = 8;
const TTL_MS = 1_500;
const fate: ConsumerFate = (failure, delivery) => dispositionFor(failure, delivery);

type Handled = { worker: string; name: string; deliveryCount: number };

type TestWorker = {
  id: string;
  ownership: Ownership;
  consumer: CommandConsumer;
  metrics: Metrics;
  /** Moves this worker's monotonic clock forward (a pause it did not notice). */
  jump(ms: number): void;
  stop(): Promise<void>;
};

describe("partition ownership between workers (int)", function () {
  this.timeout(30_000);
  let infra: Infra;
  let kv: ClusterKv;
  const workers: TestWorker[] = [];
  const handled: Handled[] = [];
  /** Commands whose handler waits for a release, by name. */
  const held = new Map<string, () => void>();

  const handler =
    (worker: string): CommandHandler =>
    async (raw, meta) => {
      const name = (raw as { name: string }).name;
      // Held on its first delivery only: a redelivered one is handled at once.
      if (name.startsWith("hold") && meta.deliveryCount === 1)
        await new Promise<void>((r) => held.set(name, r));
      handled.push({ worker, name, deliveryCount: meta.deliveryCount });
      return { disposition: ack };
    };

  async function startTestWorker(id: string): Promise<TestWorker> {
    const metrics = createMetrics();
    const log = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }).child({ worker: id });
    let skew = 0;
    const consumer = new CommandConsumer(
      infra.nc,
      infra.js,
      infra.jsm,
      infra.topo,
      handler(id),
      new DeadLetters(infra.js, infra.jsm, infra.topo),
      metrics,
      log,
      { fate, holds: (p): boolean => ownership.holds(p) },
    );
    // The consumer asks it, per command, whether the partition is still ours (only once it runs).
    const ownership = new Ownership({
      kv,
      nc: infra.nc,
      workerId: id,
      host: "test",
      pid: process.pid,
      partitions: PARTITIONS,
      ttlMs: TTL_MS,
      consumer,
      metrics,
      log,
      clock: () => performance.now() + skew,
    });
    await ownership.start();
    const own = ownership;
    const w: TestWorker = {
      id,
      ownership: own,
      consumer,
      metrics,
      jump: (ms) => (skew += ms),
      async stop() {
        await own.stop();
        await consumer.stop();
      },
    };
    workers.push(w);
    return w;
  }

  const live = () => workers.filter((w) => !stopped.has(w));
  const stopped = new Set<TestWorker>();
  const stopWorker = async (w: TestWorker) => {
    stopped.add(w);
    await w.stop();
  };

  /** Every live worker holds exactly its rendezvous share, and its consumer runs exactly those. */
  const converged = () => {
    const ids = live().map((w) => w.id);
    return live().every((w) => {
      const want = targetOf(w.id, PARTITIONS, ids);
      return (
        JSON.stringify(w.ownership.owned()) === JSON.stringify(want) &&
        JSON.stringify(w.consumer.partitions()) === JSON.stringify(want)
      );
    });
  };

  /** A command on partition `p` (subjects are `<base>.<partition>.<id>`). */
  const publish = (p: number, name: string) =>
    infra.js.publish(`${infra.topo.commandBase}.${p}.${name}`, encode({ name }));

  const gauge = async (m: Metrics, name: "leaseLost" | "rebalances", labels: Record<string, string> = {}) =>
    (await m[name].get()).values
      .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k as never] === x))
      .reduce((s, v) => s + v.value, 0);

  beforeEach(async () => {
    infra = await openInfra({ partitions: PARTITIONS, ackWaitMs: 30_000 });
    kv = await new ClusterKv(infra.js, infra.prefix, { ttlMs: TTL_MS, replicas: 1 }).ensure();
    handled.length = 0;
  });

  afterEach(async () => {
    for (const r of held.values()) r();
    held.clear();
    await Promise.all(live().map((w) => stopWorker(w)));
    workers.length = 0;
    stopped.clear();
    await kv.destroy();
    await infra.close();
  });

  it("takes every partition at start when alone, and splits them disjointly, covering all, among three", async () => {
    const a = await startTestWorker("worker-a");
    expect(a.ownership.owned(), "a worker alone holds all at start").to.have.length(PARTITIONS);
    expect(a.consumer.partitions()).to.have.length(PARTITIONS);
    await startTestWorker("worker-b");
    await startTestWorker("worker-c");
    await waitFor(converged, { timeoutMs: 10_000, what: "three workers to hold their rendezvous shares" });
    const owned = workers.map((w) => w.ownership.owned());
    expect(owned.flat().sort((x, y) => x - y)).to.deep.equal([...Array(PARTITIONS).keys()]);
    // The leases in the bucket say the same.
    const leases = await kv.leases();
    expect(leases.map((l) => l.partition)).to.deep.equal([...Array(PARTITIONS).keys()]);
    for (const l of leases) {
      const holder = workers.find((w) => w.ownership.owned().includes(l.partition));
      expect(l.record.owner, `owner of partition ${l.partition}`).to.equal(holder?.id);
    }
    // And the member entries carry each worker's partitions and its last rebalance.
    const members = await kv.members();
    expect(members.map((m) => m.worker_id)).to.deep.equal(["worker-a", "worker-b", "worker-c"]);
    for (const m of members) {
      expect(m.partitions).to.deep.equal(workers.find((w) => w.id === m.worker_id)!.ownership.owned());
      expect(m.last_rebalance).not.to.equal(null);
    }
    // Commands on every partition are handled, each once, by the partition's owner.
    for (let p = 0; p < PARTITIONS; p++) await publish(p, `cmd-${p}`);
    await waitFor(() => handled.length === PARTITIONS, { timeoutMs: 5_000, what: "every command handled" });
    for (const h of handled) {
      const p = Number(h.name.slice(4));
      expect(h.worker, `handler of ${h.name}`).to.equal(
        workers.find((w) => w.ownership.owned().includes(p))!.id,
      );
    }
  });

  it("three workers started at once race for the leases and converge on one owner per partition", async () => {
    await Promise.all(["worker-a", "worker-b", "worker-c"].map((id) => startTestWorker(id)));
    await waitFor(converged, { timeoutMs: 10_000, what: "three workers started together to converge" });
    const owned = workers.map((w) => w.ownership.owned());
    expect(owned.flat().sort((x, y) => x - y)).to.deep.equal([...Array(PARTITIONS).keys()]);
    for (const w of workers) expect(w.ownership.owned(), w.id).not.to.be.empty;
  });

  it("a worker stopping gracefully finishes its in-flight command, however long, before its partitions move", async () => {
    const a = await startTestWorker("worker-a");
    const b = await startTestWorker("worker-b");
    await waitFor(converged, { timeoutMs: 10_000, what: "two workers converged" });
    const p = a.ownership.owned()[0]!;
    await publish(p, "hold-1");
    await waitFor(() => held.has("hold-1"), { timeoutMs: 5_000, what: "the command in a's hands" });

    const stopping = stopWorker(a);
    // a is draining: its lease stands, and b cannot have the partition yet.
    await new Promise((r) => setImmediate(r));
    expect((await kv.leases()).find((l) => l.partition === p)?.record.owner).to.equal("worker-a");
    expect(b.ownership.owned()).not.to.include(p);
    // The drain outlasts the TTL: a keeps the lease renewed meanwhile (four renewals: more than a
    // TTL has passed), so the command is still acknowledged by a when it ends.
    const r0 = (await kv.leases()).find((l) => l.partition === p)!.revision;
    const revisions = new Set<number>();
    await waitFor(
      async () => {
        const l = (await kv.leases()).find((x) => x.partition === p);
        if (l && l.revision > r0) revisions.add(l.revision);
        return revisions.size >= 4;
      },
      { timeoutMs: TTL_MS * 4, what: "a's lease renewed four times while it drains" },
    );
    held.get("hold-1")!();
    await stopping;
    expect(handled).to.deep.include({ worker: "worker-a", name: "hold-1", deliveryCount: 1 });

    await waitFor(() => b.ownership.owned().length === PARTITIONS, {
      timeoutMs: 5_000,
      what: "b to take every partition once a has left",
    });
    expect(await gauge(a.metrics, "leaseLost")).to.equal(0);
    await publish(p, "after-1");
    await waitFor(() => handled.some((h) => h.name === "after-1"), { timeoutMs: 5_000, what: "after-1" });
    expect(handled.filter((h) => h.name === "hold-1")).to.have.length(1);
    expect(handled.find((h) => h.name === "after-1")?.worker).to.equal("worker-b");
  });

  it("a worker whose lease lapsed by its own clock stops the partition and hands back its command", async () => {
    const a = await startTestWorker("worker-a");
    const b = await startTestWorker("worker-b");
    await waitFor(converged, { timeoutMs: 10_000, what: "two workers converged" });
    const p = a.ownership.owned()[0]!;
    await publish(p, "hold-2");
    await waitFor(() => held.has("hold-2"), { timeoutMs: 5_000, what: "the command in a's hands" });

    // a "was paused" past its TTL: by its clock, its leases have lapsed, and the command it had in
    // hand ends now, before any round of a's has run. It is not acknowledged: it goes back to the
    // stream, and comes back (a second delivery) to whoever holds the partition then. Nobody took
    // a's leases on the server (they had not expired there), so a takes them again, rewritten: the
    // SIGSTOP test (ownership-processes.int.spec.ts) shows another worker taking them over.
    a.jump(TTL_MS * 2);
    expect(a.ownership.holds(p)).to.equal(false);
    held.get("hold-2")!();
    held.delete("hold-2");
    await waitFor(async () => (await gauge(a.metrics, "leaseLost", { reason: "expired" })) > 0, {
      timeoutMs: 5_000,
      what: "a to count its lapsed leases",
    });
    await waitFor(() => handled.filter((h) => h.name === "hold-2").length === 2, {
      timeoutMs: 10_000,
      what: "the command handled again after its nak",
    });
    const twice = handled.filter((h) => h.name === "hold-2");
    expect(twice.map((h) => h.deliveryCount)).to.deep.equal([1, 2]);
    const owner = workers.find((w) => w.ownership.owned().includes(p));
    expect(twice[1]!.worker).to.equal(owner?.id);
    await waitFor(converged, { timeoutMs: 10_000, what: "both workers converged again" });
    expect(await gauge(b.metrics, "leaseLost")).to.equal(0);
  });
});
