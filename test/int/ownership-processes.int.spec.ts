// Partition ownership with workers as real processes (as the Procfile runs them), the gateway and
// the PSP sandbox in the test process, a short lease TTL: three workers split the partitions; one
// killed (SIGKILL) mid-authorization loses its partitions to the others within the TTL and a round,
// and its unacknowledged command is handled by the new owner, the payment charged once; one paused
// (SIGSTOP) past its TTL loses its partitions too, and once resumed (SIGCONT) notices it, counts
// it, and appends nothing (its fence-conflict count stays 0).
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import { startSandbox, type Sandbox } from "../../scripts/sandbox-psp.ts";
import { ClusterKv } from "../../streams/cluster.ts";
import { partitionOf, topology } from "../../streams/topology.ts";
import { NATS_URL } from "../support/infra.ts";
import {
  CARDS,
  cleanupRun,
  paymentBody,
  startTestPlatform,
  testEnv,
  type Api,
  type TestPlatform,
} from "../support/platform.ts";
import { metricOf, metricsOf } from "../support/cluster-checks.ts";
import { waitFor } from "../support/wait.ts";
import { startWorkerProcess, type WorkerProcess } from "../support/worker-process.ts";

const TTL_MS = 2_000;
const PARTITIONS = 8;
const ALL = [...Array(PARTITIONS).keys()];

describe("partition ownership across worker processes (int)", function () {
  this.timeout(90_000);
  let sandbox: Sandbox;
  let gateway: TestPlatform;
  let env: Record<string, string>;
  let api: Api;
  let nc: NatsConnection;
  let kv: ClusterKv;
  const workers: WorkerProcess[] = [];

  const idOf = (w: WorkerProcess): string =>
    String(w.logs().find((l) => l.msg === "worker consuming commands")?.workerId);

  /** Partition → owner, as the lease bucket says. */
  const leases = async (): Promise<Map<number, string>> =>
    new Map((await kv.leases()).map((l) => [l.partition, l.record.owner]));

  /** Every partition leased, each to one of `owners`, and every one of them holding some. */
  const coveredBy = async (owners: string[]): Promise<boolean> => {
    const l = await leases();
    const holders = new Set(l.values());
    return (
      l.size === PARTITIONS &&
      [...holders].every((h) => owners.includes(h)) &&
      owners.every((o) => holders.has(o))
    );
  };

  before(async () => {
    sandbox = await startSandbox({ port: 0, latencyMs: 0 });
    env = testEnv({
      SANDBOX_URL: sandbox.url,
      SWITCHYARD_PARTITIONS: String(PARTITIONS),
      SWITCHYARD_LEASE_TTL_MS: String(TTL_MS),
      // A command in a dead worker's hands comes back after this.
      SWITCHYARD_COMMAND_ACK_WAIT_MS: "2000",
      SWITCHYARD_REPLY_WAIT_MS: "300",
      SWITCHYARD_PSP_TIMEOUT_MS: "3000",
      SANDBOX_SLOW_CARD_DELAY_MS: "6000",
      SWITCHYARD_PROJECTIONS: "off",
    });
    gateway = await startTestPlatform({ env, roles: ["gateway"] });
    api = gateway.api(gateway.merchants[0]!);
    nc = await connect({ servers: NATS_URL });
    kv = await new ClusterKv(jetstream(nc), env.SWITCHYARD_PREFIX!, { ttlMs: TTL_MS, replicas: 1 }).ensure();
    for (const name of ["w1", "w2", "w3"]) workers.push(startWorkerProcess(env, name));
    await Promise.all(workers.map((w) => w.ready));
  });

  after(async () => {
    for (const w of workers) {
      if (w.child.signalCode === null && w.child.exitCode === null) w.child.kill("SIGCONT");
      w.kill();
    }
    await gateway?.stop();
    await sandbox?.close();
    await nc?.close();
    if (env) await cleanupRun(env);
  });

  it("splits the partitions among three workers, disjoint and covering all", async () => {
    const ids = workers.map(idOf);
    await waitFor(() => coveredBy(ids), { timeoutMs: 20_000, what: "three workers holding all partitions" });
    const members = await kv.members();
    expect(members.map((m) => m.worker_id).sort()).to.deep.equal([...ids].sort());
    const claimed = members.flatMap((m) => m.partitions).sort((a, b) => a - b);
    expect(claimed, "each partition claimed by one member").to.deep.equal(ALL);
  });

  it("moves a killed worker's partitions within the TTL and a round; its command is handled once by the new owner", async () => {
    for (const psp of ["acme", "bolt"]) sandbox.setBehaviour(psp, { latencyMs: 1_500 });
    const topo = topology(env.SWITCHYARD_PREFIX!, PARTITIONS);
    const before = await leases();
    // Payments until one is at the PSP in the hands of a worker: that worker is the one killed.
    const ids: string[] = [];
    const answers = Array.from({ length: 8 }, async (_, i) => {
      const res = await api.post("/v1/payments", paymentBody({ number: CARDS.success }), `kill-${i}`);
      ids.push(res.body.id);
      return res;
    });
    const charged = await waitFor(() => sandbox.charges()[0], { timeoutMs: 10_000, what: "a first charge" });
    const victimId = before.get(partitionOf(topo, charged.reference))!;
    const victim = workers.find((w) => idOf(w) === victimId)!;
    victim.child.kill("SIGKILL");
    const killedAt = Date.now();
    await victim.exited;
    const survivors = workers.filter((w) => w !== victim).map(idOf);
    await waitFor(() => coveredBy(survivors), {
      timeoutMs: 15_000,
      what: "the survivors holding every partition",
      intervalMs: 50,
    });
    const movedMs = Date.now() - killedAt;
    // Its entries expire a TTL after its last write (a renewal burst, at most TTL/3 before the kill);
    // the survivors look again when they have heard nothing from it for a TTL (+250 ms). Slack for
    // this shared machine.
    expect(movedMs, "time for the partitions to move").to.be.below(TTL_MS + 1_000);
    console.log(`      partitions moved ${movedMs} ms after the SIGKILL (TTL ${TTL_MS} ms)`);

    await Promise.all(answers);
    for (const id of ids) {
      await waitFor(async () => (await api.get(`/v1/payments/${id}`)).body.status === "authorized", {
        timeoutMs: 20_000,
        what: `payment ${id} authorized`,
      });
      expect(sandbox.charges({ reference: id }), `charges of ${id}`).to.have.length(1);
    }
    // The payment charged when the kill landed was finished by its partition's new owner.
    const heir = (await leases()).get(partitionOf(topo, charged.reference));
    expect(survivors).to.include(heir);
    // Its log lines are buffered (config/log-format.ts): waited for, not read at once.
    await workers
      .find((w) => idOf(w) === heir)!
      .waitForLog(
        (l) => l.paymentId === charged.reference,
        "the new owner handled the dead worker's payment",
      );
  });

  it("a worker paused past its TTL loses its partitions, and once resumed notices it and appends nothing", async () => {
    for (const psp of ["acme", "bolt"]) sandbox.setBehaviour(psp, { latencyMs: 0 });
    const alive = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
    expect(alive).to.have.length(2);
    const [paused, other] = alive as [WorkerProcess, WorkerProcess];
    await waitFor(() => coveredBy(alive.map(idOf)), { timeoutMs: 10_000, what: "two workers converged" });
    const before = await metricsOf(paused);
    expect(metricOf(before, 'switchyard_lease_lost_total{reason="expired"}')).to.equal(0);
    // Counted from here: the kill above may have made the survivors reload a payment or two.
    const fence = "switchyard_event_fence_conflicts_total";
    const fenceBefore = [metricOf(before, fence), metricOf(await metricsOf(other), fence)];
    console.log(`      fence conflicts of the two survivors after the kill: ${fenceBefore.join(", ")}`);

    paused.child.kill("SIGSTOP");
    await waitFor(() => coveredBy([idOf(other)]), {
      timeoutMs: 15_000,
      what: "the other worker holding every partition while the first is stopped",
      intervalMs: 50,
    });
    // Work goes on meanwhile, on the other worker.
    const during = await api.post("/v1/payments", paymentBody({ number: CARDS.success }), "during-pause");
    await waitFor(
      async () => (await api.get(`/v1/payments/${during.body.id}`)).body.status === "authorized",
      {
        timeoutMs: 10_000,
        what: "a payment during the pause",
      },
    );

    paused.child.kill("SIGCONT");
    const lost = await paused.waitForLog(
      // "expired" when its own clock says so first, "refused" when a renewal is refused first.
      (l) => l.msg === "partition leases lost" && (l.reason === "expired" || l.reason === "refused"),
      "the resumed worker noticing its leases lapsed",
    );
    expect(lost.lost).to.be.greaterThan(0);
    // It rejoins: the two share the partitions again.
    await waitFor(() => coveredBy(alive.map(idOf)), { timeoutMs: 15_000, what: "the two converged again" });
    const after = await metricsOf(paused);
    expect(
      metricOf(after, 'switchyard_lease_lost_total{reason="expired"}') +
        metricOf(after, 'switchyard_lease_lost_total{reason="refused"}'),
    ).to.be.greaterThan(0);
    expect(
      [metricOf(after, fence), metricOf(await metricsOf(other), fence)],
      "fence conflicts of the paused worker and the other, unchanged by the pause",
    ).to.deep.equal(fenceBefore);
    expect(metricOf(after, "switchyard_partitions_configured")).to.equal(PARTITIONS);
    // The leases say the two converged; the paused worker's gauge follows once it has started the
    // partitions it took back (their consumers), a moment later on a loaded machine.
    await waitFor(
      async () =>
        metricOf(await metricsOf(paused), `switchyard_partitions_owned{worker="${idOf(paused)}"}`) > 0,
      { timeoutMs: 15_000, what: "the paused worker's gauge to show the partitions it took back" },
    );
    const afterwards = await api.post("/v1/payments", paymentBody({ number: CARDS.success }), "after-pause");
    await waitFor(
      async () => (await api.get(`/v1/payments/${afterwards.body.id}`)).body.status === "authorized",
      { timeoutMs: 10_000, what: "a payment after the resume" },
    );
  });
});
