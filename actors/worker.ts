// The worker role: hosts the payment actors and feeds them from PAY_CMD. One worker owns all
// partitions for now; several workers may run at once (they share the durable consumers, and the
// event-store fence keeps two live copies of a payment harmless).
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
import type { PspConnector } from "./psp/contract.ts";
import { staticPriorityRoute } from "./psp/routing.ts";

export type WorkerOptions = {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  redis: Redis;
  topo: Topology;
  connectors: ReadonlyMap<string, PspConnector>;
  cardKey: Buffer;
  pspPriority: readonly string[];
  snapshotEvery: number;
  passivateAfterMs: number;
  metrics: Metrics;
  log: Logger;
};

export type Worker = { registry: PaymentRegistry; stop(): Promise<void> };

export async function startWorker(o: WorkerOptions): Promise<Worker> {
  const log = o.log.child({ role: "worker" });
  const snapshots = new SnapshotStore(o.redis, (id) => snapshotKey(o.topo, id), log, o.metrics);
  const store = new EventStore(o.js, o.jsm, o.topo, snapshots, o.metrics);
  // Raw connectors: each payment actor measures and logs its PSP calls with its own paymentId.
  const connectors = o.connectors;
  const known = new Set(connectors.keys());
  const system = startSystem();
  const registry = new PaymentRegistry(
    system,
    {
      store,
      snapshots,
      connectors,
      cardKey: o.cardKey,
      route: () => staticPriorityRoute(o.pspPriority, known),
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
    async stop() {
      await consumer.stop();
      await registry.close();
      stopSystem(system);
      log.info("worker stopped");
    },
  };
}
