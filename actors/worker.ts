// The worker role: hosts the payment actors and feeds them from PAY_CMD, with the health board per
// PSP (actors/psp/health.ts) gating and measuring authorizations, and the live router reading the
// active policies. The worker consumes the partitions it holds by lease (actors/ownership.ts): alone,
// all of them; with others, its rendezvous share, handed over explicitly as workers come and go (the
// event-store fence stays the safety net should two copies of a payment ever run). Each worker publishes its PSP health and shadow statistics to the ops board. Commands
// are parsed here, once, as they come off the stream (not a command: a dead letter), and each worker
// runs a janitor (actors/janitor.ts) over PAY_EVT, read through the process's event tap.
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Redis } from "ioredis";
import { hostname } from "node:os";
import { ClusterKv } from "../streams/cluster.ts";
import { CommandConsumer, type CommandMeta } from "../streams/command-consumer.ts";
import { DeadLetters } from "../streams/dead-letters.ts";
import { EventStore } from "../streams/event-store.ts";
import type { Logger } from "../config/log.ts";
import type { Metrics } from "../config/metrics.ts";
import { SnapshotStore } from "../streams/snapshots.ts";
import { partitionOf, snapshotKey, type Topology } from "../streams/topology.ts";
import type { ConsumerFate } from "../streams/disposition.ts";
import { dispositionFor, PoisonReason } from "./fate.ts";
import { Janitor } from "./janitor.ts";
import { Ownership } from "./ownership.ts";
import { startSystem, stopSystem } from "./nact.ts";
import type { PaymentOutcome } from "./payment/actor.ts";
import { Journal } from "./payment/journal.ts";
import { PaymentRegistry } from "./payment/registry.ts";
import { SCHEMA_VERSION } from "./payment/core/state.ts";
import { maskCardNumbers, redactCardNumbers } from "./payment/core/card-in-text.ts";
import { checkCommand, foreignPayment, type Refusal } from "./command-checks.ts";
import { guarded } from "./psp/guarded.ts";
import { instrumented } from "./psp/instrumented.ts";
import { LiveRouter } from "./policy/live-router.ts";
import type { WorkerReport } from "./policy/core/reports.ts";
import type { PspCapabilities } from "./policy/core/schemas.ts";
import type { PspConnector } from "./psp/contract.ts";
import { PspHealthBoard } from "./psp/health.ts";
import type { OpsBoard } from "../streams/ops-board.ts";
import type { FrameSource } from "../streams/event-tap.ts";
import type { PolicyView } from "../streams/policy-store.ts";

export type WorkerOptions = {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  redis: Redis;
  topo: Topology;
  connectors: ReadonlyMap<string, PspConnector>;
  capabilities: ReadonlyMap<string, PspCapabilities>;
  /** The live view of the policy store: active policies, shadow, operators' rotation overrides. */
  policies: PolicyView;
  opsBoard: OpsBoard;
  /** A worker id usable as a KV key (streams/cluster-records.ts WorkerId). */
  workerId: string;
  /** How long the worker's member entry and partition leases live unrenewed (SWITCHYARD_LEASE_TTL_MS). */
  leaseTtlMs: number;
  /** The current card key first, then retired ones (for commands sealed before a rotation). */
  cardKeys: readonly Buffer[];
  snapshotEvery: number;
  passivateAfterMs: number;
  metrics: Metrics;
  log: Logger;
  /** The process's tap of PAY_EVT, which the janitor shares with the process's other readers. */
  eventTap?: FrameSource;
};

export type Worker = {
  registry: PaymentRegistry;
  /** The payments' histories as this worker reads them (read-only use outside: audits, tests). */
  journal: Journal;
  health: PspHealthBoard;
  router: LiveRouter;
  /** Read-only use outside (the bench's memory figure): how many payments it watches. */
  janitor: Pick<Janitor, "watching" | "unresolved">;
  /** The partitions this worker holds by lease (read-only use outside: tests, the bench). */
  ownership: Pick<Ownership, "owned" | "holds">;
  stop(): Promise<void>;
};

/** How often a worker refreshes its report on the ops board (and at once on a circuit change). */
const REPORT_EVERY_MS = 2_000;

export async function startWorker(o: WorkerOptions): Promise<Worker> {
  const log = o.log;
  const snapshots = new SnapshotStore(
    o.redis,
    (id) => snapshotKey(o.topo, id),
    log,
    o.metrics,
    SCHEMA_VERSION,
  );
  const store = new EventStore(o.js, o.jsm, o.topo, o.metrics);
  // A command finishing after this worker lost its partition (paused past its lease) appends
  // nothing: refused here, counted, and retried by the partition's new owner.
  const journal = new Journal(store, snapshots, (paymentId) => {
    if (ownership.holds(partitionOf(o.topo, paymentId))) return true;
    o.metrics.leaseLost.inc({ reason: "append_refused" });
    return false;
  });
  const system = startSystem();
  const circuit = () => o.policies.active("retries").policy.circuit;
  const health = new PspHealthBoard({
    log,
    metrics: o.metrics,
    psps: [...o.connectors.keys()],
    thresholds: circuit(),
    system,
  });
  // Operators' rotation overrides and the retry policy's circuit thresholds follow the policy store.
  const syncPolicies = async () => {
    await health.setThresholds(circuit());
    const out = o.policies.forcedOut();
    for (const psp of o.connectors.keys()) await health.setForcedOut(psp, out.has(psp));
  };
  await syncPolicies();
  const unwatch = o.policies.onChange(() => {
    syncPolicies().catch((err: unknown) =>
      log.error({ err }, "could not apply a policy change to PSP health"),
    );
  });
  const router = new LiveRouter({
    policies: o.policies,
    health: () => health.health(),
    capabilities: o.capabilities,
    observer: {
      routed(d) {
        o.metrics.routingDecisions.inc({ strategy: d.strategy, rule: d.ruleId ?? "fallback" });
        const s = d.shadow;
        if (s) {
          const diverged =
            s.divergedPsp && s.divergedFee
              ? "psp_and_fee"
              : s.divergedPsp
                ? "psp"
                : s.divergedFee
                  ? "fee"
                  : "none";
          o.metrics.shadowDecisions.inc({ version: String(s.routingVersion), diverged });
        }
      },
    },
  });
  const report = (): WorkerReport => ({
    workerId: o.workerId,
    at: new Date().toISOString(),
    psps: health.reports(),
    shadow: router.shadowReports(),
  });
  const publisher = o.opsBoard.startPublishing(o.workerId, report, REPORT_EVERY_MS);
  const unhealth = health.onChange(() => publisher.poke());
  // Wrapped once for the worker's life: measured (outermost: a refused call is not a PSP call) and
  // behind the PSP's circuit breaker.
  const connectors = new Map(
    [...o.connectors].map(([name, c]) => [name, guarded(instrumented(c, o.metrics, log), health)]),
  );
  const registry = new PaymentRegistry(
    system,
    {
      journal,
      connectors,
      waiting: new Set(),
      cardKeys: o.cardKeys,
      route: (c) => router.route(c),
      onRouted: (c, d) => router.recorded(c, d),
      snapshotEvery: o.snapshotEvery,
      metrics: o.metrics,
      log,
      now: () => new Date(),
    },
    // Longer than any command can take with heartbeats; a dropped message costs one wait, then a nak.
    { passivateAfterMs: o.passivateAfterMs, askTimeoutMs: 120_000 },
  );
  // Parsed and checked once, here, where the command comes off the stream (actors/command-checks.ts):
  // a command refused there is answered a typed error, if it asked for a reply, and dead-lettered.
  const refused = (r: Refusal, meta: CommandMeta): PaymentOutcome => {
    o.metrics.commandsRefused.inc({ reason: r.reason });
    if (r.reason === PoisonReason.undecodable) o.metrics.commandsRejectedUndecodable.inc();
    if (r.problem !== undefined) o.metrics.inputsRefused.inc({ edge: "nats", code: r.problem });
    if (r.redact) o.metrics.inputsRefused.inc({ edge: "nats", code: "card_number" });
    log.warn(
      { reason: r.reason, code: r.code, subject: maskCardNumbers(meta.subject), error: r.message },
      "command refused",
    );
    return {
      disposition: dispositionFor(
        { kind: "poison", reason: r.reason, error: r.message, ...(r.redact && { redact: true }) },
        meta,
      ),
      reply: {
        kind: "rejected",
        rejection: { code: r.code, message: r.message, details: r.details ?? {} },
      },
    };
  };
  const handle = async (raw: unknown, meta: CommandMeta, data: Uint8Array): Promise<PaymentOutcome> => {
    const checked = checkCommand({ topo: o.topo, cardKeys: o.cardKeys }, raw, meta, data);
    if (!checked.ok) return refused(checked.refusal, meta);
    const envelope = checked.envelope;
    let outcome: PaymentOutcome;
    try {
      outcome = await registry.send(envelope.command.paymentId, { envelope, meta });
    } catch (err) {
      // The actor did not answer in time (or is gone): the command stays ours to retry.
      log.warn({ err, paymentId: envelope.command.paymentId }, "command not handled; redelivered later");
      return { disposition: dispositionFor({ kind: "no_answer" }, meta) };
    }
    const foreign = await foreignPayment(journal, envelope.command, outcome.reply);
    return foreign ? refused(foreign, meta) : outcome;
  };
  // The consumer's own failures are settled by the same rule as every other outcome.
  const fate: ConsumerFate = (failure, delivery) => dispositionFor(failure, delivery);
  const cluster = await new ClusterKv(o.js, o.topo.prefix, {
    ttlMs: o.leaseTtlMs,
    replicas: o.topo.replicas,
  }).ensure();
  const consumer = new CommandConsumer(
    o.nc,
    o.js,
    o.jsm,
    o.topo,
    handle,
    new DeadLetters(o.js, o.jsm, o.topo),
    o.metrics,
    log,
    { fate, holds: (p): boolean => ownership.holds(p), redact: redactCardNumbers },
  );
  // The consumer asks it, per command, whether the partition is still ours (only once it runs).
  const ownership = new Ownership({
    kv: cluster,
    nc: o.nc,
    workerId: o.workerId,
    host: hostname(),
    pid: process.pid,
    partitions: o.topo.partitions,
    ttlMs: o.leaseTtlMs,
    consumer: {
      startPartition: (p) => consumer.startPartition(p),
      // Once drained, its payments' idle actors go too: should the partition come back after
      // another worker wrote to them, they are read afresh instead of failing the fence first.
      stopPartition: async (p) => {
        await consumer.stopPartition(p);
        registry.passivateIdle((id) => partitionOf(o.topo, id) === p);
      },
    },
    metrics: o.metrics,
    log,
  });
  await ownership.start();
  const janitor = new Janitor({
    js: o.js,
    topo: o.topo,
    journal,
    metrics: o.metrics,
    log,
    now: Date.now,
    replicas: o.topo.replicas,
    ...(o.eventTap && { source: o.eventTap }),
  });
  await janitor.start();
  log.info(
    { partitions: o.topo.partitions, owned: ownership.owned().length, workerId: o.workerId },
    "worker consuming commands",
  );
  return {
    registry,
    journal,
    health,
    router,
    janitor,
    ownership,
    async stop() {
      // Partitions drained and their leases given up first, so the others take them at once.
      await ownership.stop();
      await consumer.stop();
      await janitor.stop();
      await registry.close();
      unwatch();
      unhealth();
      await publisher.stop();
      health.close();
      stopSystem(system);
      log.info("worker stopped");
    },
  };
}
