// Every Prometheus metric of the platform, on one registry per process (so several platforms in
// one test process never collide). Names carry the `switchyard_` prefix.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics(opts: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: "switchyard_" });
  const registers = [registry];
  return {
    registry,
    httpDuration: new Histogram({
      name: "switchyard_http_request_duration_seconds",
      help: "HTTP request duration by route and status",
      labelNames: ["method", "route", "status"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    commandDuration: new Histogram({
      name: "switchyard_command_duration_seconds",
      help: "Time an actor spends handling one command, by command type and result",
      labelNames: ["type", "result"] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    pspDuration: new Histogram({
      name: "switchyard_psp_request_duration_seconds",
      help: "PSP call duration by psp, operation and normalized outcome",
      labelNames: ["psp", "operation", "outcome"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    paymentsTerminal: new Counter({
      name: "switchyard_payments_total",
      help: "Payments reaching a resting status (authorized, captured, declined, failed, ...), by status",
      labelNames: ["status"] as const,
      registers,
    }),
    liveActors: new Gauge({
      name: "switchyard_live_actors",
      help: "Payment actors currently in memory",
      registers,
    }),
    consumerPending: new Gauge({
      name: "switchyard_consumer_pending_messages",
      help: "Commands waiting in each partition's consumer (not yet delivered)",
      labelNames: ["partition"] as const,
      registers,
    }),
    consumerAckPending: new Gauge({
      name: "switchyard_consumer_ack_pending_messages",
      help: "Commands delivered to this partition's workers and not yet acknowledged",
      labelNames: ["partition"] as const,
      registers,
    }),
    fenceConflicts: new Counter({
      name: "switchyard_event_fence_conflicts_total",
      help: "Appends refused by the expected-last-subject-sequence fence (another writer was first)",
      registers,
    }),
    snapshotFailures: new Counter({
      name: "switchyard_snapshot_failures_total",
      help: "Redis snapshot reads or writes that failed (the platform falls back to replay)",
      labelNames: ["op"] as const,
      registers,
    }),
    commandsRejectedUndecodable: new Counter({
      name: "switchyard_commands_undecodable_total",
      help: "PAY_CMD messages that were not a valid command envelope (terminated, logged)",
      registers,
    }),
    unresolvedEffects: new Gauge({
      name: "switchyard_unresolved_psp_effects",
      help: "Payments whose PSP outcome is unknown or whose PSP is unreachable, waiting for a retry",
      registers,
    }),
  };
}
