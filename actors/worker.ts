// The worker role: hosts the payment actors and feeds them from PAY_CMD, with one connector actor per
// PSP (actors/psp/health.ts) gating and measuring authorizations, and the live router reading the
// active policies. One worker owns all partitions for now; several workers may run at once (they
// share the durable consumers, and the event-store fence keeps two live copies of a payment
// harmless). Each worker publishes its PSP health and shadow statistics to the ops board.
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Redis } from "ioredis";
import { CommandConsumer } from "../streams/command-consumer.ts";
import { EventStore } from "../streams/event-store.ts";
import type { Logger } from "../streams/log.ts";
import type { Metrics } from "../streams/metrics.ts";
import { SnapshotStore } from "../streams/snapshots.ts";
import { snapshotKey, type Topology } from "../streams/topology.ts";
import { startSystem, stopSystem } from "./nact.ts";
import { PaymentRegistry } from "./payment/registry.ts";
import { LiveRouter } from "./policy/live-router.ts";
import type { WorkerReport } from "./policy/reports.ts";
import type { PspCapabilities } from "./policy/schemas.ts";
import type { PspConnector } from "./psp/contract.ts";
import { PspHealthBoard } from "./psp/health.ts";
import type { OpsBoard } from "../streams/ops-board.ts";
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
  workerId: string;
  cardKey: Buffer;
  snapshotEvery: number;
  passivateAfterMs: number;
  metrics: Metrics;
  log: Logger;
};

export type Worker = {
  registry: PaymentRegistry;
  /** The event store this worker appends to (read-only use outside: audits, tests). */
  store: EventStore;
  health: PspHealthBoard;
  router: LiveRouter;
  stop(): Promise<void>;
};

/** How often a worker refreshes its report on the ops board (and at once on a circuit change). */
const REPORT_EVERY_MS = 2_000;

export async function startWorker(o: WorkerOptions): Promise<Worker> {
  const log = o.log.child({ role: "worker" });
  const snapshots = new SnapshotStore(o.redis, (id) => snapshotKey(o.topo, id), log, o.metrics);
  const store = new EventStore(o.js, o.jsm, o.topo, snapshots, o.metrics);
  // Raw connectors: each payment actor measures and logs its PSP calls with its own paymentId.
  const connectors = o.connectors;
  const system = startSystem();
  const circuit = () => o.policies.active("retries").policy.circuit;
  const health = new PspHealthBoard({
    log,
    metrics: o.metrics,
    psps: [...connectors.keys()],
    thresholds: circuit(),
    system,
  });
  // Operators' rotation overrides and the retry policy's circuit thresholds follow the policy store.
  const syncPolicies = async () => {
    await health.setThresholds(circuit());
    const out = o.policies.forcedOut();
    for (const psp of connectors.keys()) await health.setForcedOut(psp, out.has(psp));
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
  const registry = new PaymentRegistry(
    system,
    {
      store,
      snapshots,
      connectors,
      gate: health,
      waiting: new Set(),
      cardKey: o.cardKey,
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
  const consumer = new CommandConsumer(
    o.nc,
    o.js,
    o.jsm,
    o.topo,
    (envelope, meta) => registry.send(envelope.command.paymentId, { kind: "command", envelope, ...meta }),
    o.metrics,
    log,
  );
  await consumer.start(Array.from({ length: o.topo.partitions }, (_, p) => p));
  log.info({ partitions: o.topo.partitions }, "worker consuming commands");
  return {
    registry,
    store,
    health,
    router,
    async stop() {
      await consumer.stop();
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
