// Faults under load on a real three-node JetStream cluster (scripts/nats-cluster.ts, free ports, its
// own data directories), every stream and bucket with three replicas. The roles run as the Procfile
// runs them, as child processes pointed at the comma-separated NATS_URL: two gateways, three workers
// (each consuming the partitions it holds by lease: actors/ownership.ts), a projector; the PSP sandbox
// runs in the test process so its charges can be read. A few merchants pay and capture in a loop,
// retrying on connection errors and 503s with the same Idempotency-Key, while one thing is killed
// with SIGKILL: the node leading PAY_EVT, the node leading PAY_CMD and PAY_EVT, a worker, a gateway
// mid-request. Each time: every payment reaches rest (captured, in GET and in the read model) within
// 30 s after the load, none is lost, none is charged or captured twice at the PSP, and a restarted
// node catches up with the leader. The timings measured are printed (docs/architecture.md quotes them).
import { expect } from "chai";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { startNatsCluster, type NatsCluster } from "../../scripts/nats-cluster.ts";
import { startSandbox, type Sandbox } from "../../scripts/sandbox-psp.ts";
import { ClusterKv } from "../../streams/cluster.ts";
import { topology, type Topology } from "../../streams/topology.ts";
import {
  describeConsumers,
  leadTogether,
  nodeStreamState,
  startGatewayProcess,
  streamLeader,
  type GatewayProcess,
} from "../support/cluster-roles.ts";
import {
  MerchantClient,
  payAndCapture,
  startLoad,
  type LoadRun,
  type Paid,
} from "../support/merchant-load.ts";
import {
  afterProgress,
  expectInFlightAt,
  explainReadModel,
  metricOf,
  metricsOf,
  report,
  within,
} from "../support/cluster-checks.ts";
import { cleanupRun, listAllPayments, client, merchantsOf, testEnv } from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";
import { startProjectorProcess, startWorkerProcess, type WorkerProcess } from "../support/worker-process.ts";

const CLIENTS = 4;
const AT_REST_WITHIN_MS = Number(process.env.CLUSTER_FAULTS_AT_REST_MS ?? 30_000);

describe("a three-node JetStream cluster, faults under load (e2e)", function () {
  this.timeout(180_000);
  let dir: string;
  let cluster: NatsCluster;
  let sandbox: Sandbox;
  let env: Record<string, string>;
  let topo: Topology;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let key: string;
  const gateways: GatewayProcess[] = [];
  let gatewayUrls: string[] = [];
  const workers: WorkerProcess[] = [];
  const others: Array<WorkerProcess | GatewayProcess> = [];
  const loads: LoadRun[] = [];

  before(async function () {
    this.timeout(120_000);
    dir = mkdtempSync(join(tmpdir(), "switchyard-cluster-"));
    const t0 = Date.now();
    cluster = await startNatsCluster({ dir, name: "faults" });
    console.log(`      cluster up (meta leader elected) in ${Date.now() - t0} ms`);
    sandbox = await startSandbox({ port: 0, latencyMs: 20 });
    env = testEnv({
      NATS_URL: cluster.natsUrl,
      SWITCHYARD_STREAM_REPLICAS: "3",
      SANDBOX_URL: sandbox.url,
      // A command a dead worker held comes back to another after 2 s (the shortest the env allows is 1 s).
      SWITCHYARD_COMMAND_ACK_WAIT_MS: "2000",
      // A dead worker's partitions move to the others within about this long.
      SWITCHYARD_LEASE_TTL_MS: "3000",
      SWITCHYARD_REPLY_WAIT_MS: "3000",
      SWITCHYARD_PSP_TIMEOUT_MS: "3000",
      SANDBOX_SLOW_CARD_DELAY_MS: "6000",
      SWITCHYARD_PROJECTOR_METRICS_PORT: "0",
    });
    topo = topology(env.SWITCHYARD_PREFIX!, 4);
    key = merchantsOf(env)[0]!.key;
    nc = await connect({ servers: cluster.urls });
    // A short API timeout: while a stream has no leader its info goes unanswered, and the time to a
    // new leader is measured by asking again.
    jsm = await jetstreamManager(nc, { timeout: 1_000 });
    // The first gateway creates the streams and the gateway's buckets, the first worker the
    // janitor's and the leases' buckets; then the others. Processes creating one R3 bucket at once on
    // a fresh 2.9 cluster can still be refused ("subjects overlap with an existing stream") or go
    // unanswered; streams/kv-open.ts covers the second, a deployment starts its first worker first.
    const first = startGatewayProcess(env, "gateway-1");
    gateways.push(first);
    await first.ready;
    const workerEnv = { ...env, SWITCHYARD_PROJECTIONS: "off" };
    workers.push(startWorkerProcess(workerEnv, "worker-1"));
    await workers[0]!.ready;
    const second = startGatewayProcess(env, "gateway-2");
    gateways.push(second);
    for (const n of [2, 3]) workers.push(startWorkerProcess(workerEnv, `worker-${n}`));
    const projector = startProjectorProcess(env);
    others.push(projector);
    gatewayUrls = [await first.ready, await second.ready];
    await Promise.all([...workers.map((w) => w.ready), projector.ready]);
    console.log(`      platform up (2 gateways, 3 workers, projector) after ${Date.now() - t0} ms`);
  });

  afterEach(async function () {
    for (const l of loads.splice(0)) l.stop();
    if (this.currentTest?.state === "failed") await describeConsumers(jsm, topo);
    // A case that failed between a kill and its restart leaves the next one a whole cluster.
    for (const [i, pid] of cluster.pids().entries())
      if (pid === undefined)
        await cluster
          .restart(i)
          .catch((err: unknown) => console.log(`        ${cluster.names[i]}: ${String(err)}`));
  });

  after(async function () {
    this.timeout(60_000);
    // CLUSTER_FAULTS_LOG_DIR=<dir> keeps the roles' logs of the run there.
    const logDir = process.env.CLUSTER_FAULTS_LOG_DIR;
    if (logDir !== undefined) {
      mkdirSync(logDir, { recursive: true });
      for (const [n, w] of [...workers, ...others].entries())
        writeFileSync(
          join(logDir, `role-${n}.log`),
          `${"lines" in w ? w.lines().join("\n") : ""}\n${w.stderr()}`,
        );
      console.log(`      roles' logs in ${logDir}; the nodes' in ${dir}`);
    }
    for (const p of [...gateways, ...workers, ...others]) p.kill();
    await nc?.close().catch(() => undefined);
    await cluster?.stop();
    await sandbox?.close();
    if (env) await cleanupRun(env);
    if (dir && logDir === undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("keeps every stream and bucket of the run on three replicas", async () => {
    const names: string[] = [];
    for await (const name of jsm.streams.names()) if (name.includes(env.SWITCHYARD_PREFIX!)) names.push(name);
    expect(names).to.include.members([topo.commandStream, topo.eventStream]);
    expect(names.filter((n) => n.startsWith("KV_"))).not.to.be.empty;
    for (const name of names)
      expect((await jsm.streams.info(name)).config.num_replicas, `replicas of ${name}`).to.equal(3);
  });

  it("stops a role at start-up, saying why, when SWITCHYARD_STREAM_REPLICAS exceeds the cluster", async () => {
    const role = startGatewayProcess({
      ...testEnv(),
      NATS_URL: cluster.natsUrl,
      SWITCHYARD_STREAM_REPLICAS: "5",
    });
    others.push(role);
    const exit = await role.exited;
    expect(exit.code).to.equal(1);
    expect(role.stderr()).to.include("SWITCHYARD_STREAM_REPLICAS=5 asks for 5 copies");
    expect(role.stderr()).to.include("no suitable peers for placement");
  });

  it("loses nothing and charges nothing twice when a worker is killed under load", async () => {
    const load = startLoad({ clients: CLIENTS, prefix: "worker-kill", gateways: () => gatewayUrls, key });
    loads.push(load);
    await waitFor(() => load.finished().length >= 8, { timeoutMs: 30_000, what: "payments before the kill" });
    const victim = workers[0]!;
    const killedAt = Date.now();
    victim.child.kill("SIGKILL");
    await victim.exited;
    const resumed = await afterProgress(load, killedAt, 6, AT_REST_WITHIN_MS);
    const { paid, restMs } = await stopAndSettle(load);
    report("worker-1 killed", load.tally(), paid, {
      "first payment started after the kill done after": `${resumed} ms`,
      "all at rest after the load stopped": `${restMs} ms`,
    });
    expectInFlightAt(paid, killedAt);
    await expectNothingLostNothingTwice(paid);
  });

  it("a worker paused (SIGSTOP) past its lease under load notices on resume, and nothing is lost or charged twice", async () => {
    const alive = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
    expect(alive.length, "workers alive").to.be.at.least(2);
    const [paused, other] = alive as [WorkerProcess, WorkerProcess];
    const fence = "switchyard_event_fence_conflicts_total";
    const expired = 'switchyard_lease_lost_total{reason="expired"}';
    const refusedLease = 'switchyard_lease_lost_total{reason="refused"}';
    const fenceBefore = [metricOf(await metricsOf(paused), fence), metricOf(await metricsOf(other), fence)];
    const load = startLoad({ clients: CLIENTS, prefix: "worker-pause", gateways: () => gatewayUrls, key });
    loads.push(load);
    await waitFor(() => load.finished().length >= 8, {
      timeoutMs: 30_000,
      what: "payments before the pause",
    });
    const pausedAt = Date.now();
    paused.child.kill("SIGSTOP");
    // Paused until its leases lapsed and the others hold every partition; they go on meanwhile.
    const pausedId = String(paused.logs().find((l) => l.msg === "worker consuming commands")?.workerId);
    const kv = await new ClusterKv(jetstream(nc), env.SWITCHYARD_PREFIX!, {
      ttlMs: 3_000,
      replicas: 3,
    }).ensure();
    await waitFor(
      async () => {
        const leases = await kv.leases();
        return leases.length === topo.partitions && leases.every((l) => l.record.owner !== pausedId);
      },
      { timeoutMs: 20_000, what: "the paused worker's partitions taken by the others" },
    );
    const movedMs = Date.now() - pausedAt;
    const resumed = await afterProgress(load, Date.now(), 6, AT_REST_WITHIN_MS);
    paused.child.kill("SIGCONT");
    const lost = await paused.waitForLog(
      // "expired" when its own clock says so first, "refused" when a renewal is refused first.
      (l) => l.msg === "partition leases lost" && (l.reason === "expired" || l.reason === "refused"),
      "the resumed worker noticing its leases lapsed",
    );
    const { paid, restMs } = await stopAndSettle(load);
    report("worker paused past its lease", load.tally(), paid, {
      "its partitions held by the others after": `${movedMs} ms`,
      "first payment started then done after": `${resumed} ms`,
      "partitions it found lapsed on resume": String(lost.lost),
      "all at rest after the load stopped": `${restMs} ms`,
    });
    expect(Number(lost.lost)).to.be.greaterThan(0);
    const text = await metricsOf(paused);
    expect(metricOf(text, expired) + metricOf(text, refusedLease)).to.be.greaterThan(0);
    // What it was in the middle of is refused before the append (switchyard_lease_lost_total
    // {reason="append_refused"}). Its fence count is reported, not held to zero: once it rejoins and
    // takes partitions back, a create redelivered to it for a payment the other worker already
    // began is appended optimistically at sequence 0 and refused once, by design, as on any
    // take-over (CI saw 1 in about one run in six); the metric does not tell the two apart.
    const after = await metricsOf(paused);
    console.log(
      `        appends the resumed worker refused itself: ${metricOf(after, 'switchyard_lease_lost_total{reason="append_refused"}')}; ` +
        `fence conflicts: the resumed worker ${fenceBefore[0]} → ${metricOf(after, fence)}, another ${fenceBefore[1]} → ${metricOf(await metricsOf(other), fence)}`,
    );
    await expectNothingLostNothingTwice(paid);
  });

  it("answers a merchant's retry against a second gateway with the payment the killed gateway was making, charged once", async () => {
    const victim = gateways[0]!;
    const [victimUrl, survivorUrl] = gatewayUrls as [string, string];
    // Slow PSPs: requests are still waiting on their authorization when the gateway dies.
    for (const psp of ["acme", "bolt"]) sandbox.setBehaviour(psp, { latencyMs: 600 });
    const amounts = Array.from({ length: 6 }, (_, n) => 7_000 + n);
    const ofBatch = () => sandbox.charges().filter((c) => amounts.includes(c.amount));
    // First attempt at the victim, retries at the survivor (and the victim again, refused, and so on).
    const merchant = new MerchantClient(() => [victimUrl, survivorUrl], key);
    const payments = amounts.map((amount, n) => payAndCapture(merchant, `gateway-kill-${n}`, amount));
    await waitFor(() => ofBatch().length >= 1, {
      timeoutMs: 20_000,
      what: "a first authorization at the PSP",
    });
    victim.kill();
    await victim.exited;
    gatewayUrls = [survivorUrl];
    const paid = await Promise.all(payments);
    for (const psp of ["acme", "bolt"]) sandbox.resetBehaviour(psp);
    report("gateway-1 killed mid-request", merchant.tally, paid, {});
    // Requests were cut mid-flight (not just refused afterwards), and the merchant retried them.
    expect(merchant.tally.cut, "requests cut by the kill").to.be.at.least(1);
    // The payment the retry answered is the one the first attempt had the PSP charge: one charge each.
    expect(
      ofBatch()
        .map((c) => c.reference)
        .sort(),
    ).to.deep.equal(paid.map((p) => p.id).sort());
    await expectNothingLostNothingTwice(paid);
  });

  for (const which of ["event", "command"] as const)
    it(`loses nothing and charges nothing twice when the node leading the ${which === "event" ? "event stream" : "command and event streams"} is killed under load, and the node catches up`, async () => {
      const stream = which === "event" ? topo.eventStream : topo.commandStream;
      const load = startLoad({
        clients: CLIENTS,
        prefix: `${which}-leader`,
        gateways: () => gatewayUrls,
        key,
      });
      await waitFor(() => load.finished().length >= 8, {
        timeoutMs: 30_000,
        what: "payments before the kill",
      });
      // The command case kills the node leading PAY_EVT too: the worst case (appends fail, naks lost).
      const leader =
        which === "command"
          ? await leadTogether(nc, jsm, stream, topo.eventStream)
          : await streamLeader(jsm, stream);
      const i = cluster.names.indexOf(leader ?? "");
      expect(i, `leader of ${stream}`).to.be.at.least(0);
      const killedAt = Date.now();
      await cluster.kill(i);
      const newLeader = await waitFor(
        async () => {
          const l = await streamLeader(jsm, stream).catch(() => undefined);
          return l !== undefined && l !== leader ? l : undefined;
        },
        { timeoutMs: 30_000, what: `a new leader of ${stream}` },
      );
      const electedMs = Date.now() - killedAt;
      const resumed = await afterProgress(load, killedAt, 3, AT_REST_WITHIN_MS);
      const restartAt = Date.now();
      await cluster.restart(i);
      const restartMs = Date.now() - restartAt;
      await afterProgress(load, Date.now(), 3, AT_REST_WITHIN_MS);
      const { paid, restMs } = await stopAndSettle(load);
      const catchUpAt = Date.now();
      const caughtUp = await waitFor(
        async () => {
          const leaderState = (await jsm.streams.info(stream)).state;
          const own = await nodeStreamState(cluster.monitorUrls[i]!, stream).catch(() => undefined);
          return own !== undefined &&
            own.last_seq === leaderState.last_seq &&
            own.messages === leaderState.messages
            ? own
            : undefined;
        },
        { timeoutMs: 30_000, what: `${cluster.names[i]} to catch up on ${stream}` },
      );
      expect(caughtUp.last_seq).to.be.greaterThan(0);
      report(`${stream} leader ${leader} killed`, load.tally(), paid, {
        "new leader": `${newLeader} after ${electedMs} ms`,
        "first payment started after the kill done after": `${resumed} ms`,
        "restarted node answering JetStream after": `${restartMs} ms`,
        "restarted node caught up (last seq)": `${caughtUp.last_seq}, ${Date.now() - catchUpAt} ms after the load`,
        "all at rest after the load stopped": `${restMs} ms`,
      });
      expectInFlightAt(paid, killedAt);
      await expectNothingLostNothingTwice(paid);
    });

  /** Stops the load and waits for every started payment to be captured (each client sees it). */
  async function stopAndSettle(load: LoadRun): Promise<{ paid: Paid[]; restMs: number }> {
    load.stop();
    const stoppedAt = Date.now();
    const paid = await within(load.done, AT_REST_WITHIN_MS, "every payment at rest after the load").catch(
      (err: unknown) => {
        const t = load.tally();
        console.log(
          `        not at rest: ${load.started().length - load.finished().length} of ${load.started().length} payments; ` +
            `the clients retried after ${t.connectionErrors} connection errors, ${t.timeouts} timeouts, ${t.unavailable} 503s`,
        );
        // What the workers said about the stuck payments, and every warning or error they logged:
        // a payment held without an end is a bug to read about, not a timing to retry.
        const stuck = new Set(String(err).match(/pay_[0-9a-f]+/g) ?? []);
        for (const w of workers)
          for (const l of w
            .logs()
            .filter((l) => (l.paymentId !== undefined && stuck.has(l.paymentId)) || (l.level ?? 0) >= 40)
            .slice(-30))
            console.log(`        ${w.name}: ${JSON.stringify(l).slice(0, 400)}`);
        throw err;
      },
    );
    expect(paid.map((p) => p.key).sort()).to.deep.equal(load.started().sort());
    expect(load.tally().unexpected).to.deep.equal([]);
    return { paid, restMs: Date.now() - stoppedAt };
  }

  /**
   * Every answered payment is captured as GET and the read model (the list) say, and the PSP has
   * exactly one charge for it, captured exactly once, for its amount.
   */
  async function expectNothingLostNothingTwice(paid: Paid[]): Promise<void> {
    const api = client(gatewayUrls[gatewayUrls.length - 1]!, key);
    for (const p of paid) {
      const res = await api.get(`/v1/payments/${p.id}`);
      expect(res.status, `GET ${p.id}`).to.equal(200);
      expect(res.body.status, `status of ${p.id}`).to.equal("captured");
      const charges = sandbox.charges({ reference: p.id });
      expect(charges, `charges of ${p.id}`).to.have.length(1);
      const captures = charges[0]!.movements.filter((m) => m.kind === "capture");
      expect(captures, `captures of ${p.id}`).to.have.length(1);
      expect(charges[0]!.capturedAmount).to.equal(charges[0]!.amount);
    }
    const ids = new Set(paid.map((p) => p.id));
    const t0 = Date.now();
    let listed: Array<{ id: string; status: string }> = [];
    await waitFor(
      async () => {
        listed = await listAllPayments(api);
        return listed.filter((l) => ids.has(l.id) && l.status === "captured").length === ids.size;
      },
      { timeoutMs: AT_REST_WITHIN_MS, what: "every payment captured in the read model" },
    ).catch((err: unknown) => {
      explainReadModel(ids, listed, others[0] as WorkerProcess);
      throw err;
    });
    console.log(`        read model complete ${Date.now() - t0} ms after the checks began`);
  }
});
