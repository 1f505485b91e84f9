// The gRPC surface's metrics, on the process's registry (config/metrics.ts): calls by method and
// final gRPC status, their duration, the watches open now, and their feeds read again. A second
// gRPC server on the same registry (two gateways in one process) shares them rather than failing to
// register them again.
import { Counter, Gauge, Histogram, type Metric } from "prom-client";
import type { Metrics } from "../../config/metrics.ts";

export type GrpcMetrics = ReturnType<typeof grpcMetrics>;

export function grpcMetrics(metrics: Pick<Metrics, "registry">) {
  const registers = [metrics.registry];
  const once = <M extends Metric>(name: string, make: () => M): M =>
    (metrics.registry.getSingleMetric(name) as M | undefined) ?? make();
  return {
    requests: once(
      "switchyard_grpc_requests_total",
      () =>
        new Counter({
          name: "switchyard_grpc_requests_total",
          help: "gRPC calls by method and final status code name (OK, INVALID_ARGUMENT, ...)",
          labelNames: ["method", "code"] as const,
          registers,
        }),
    ),
    duration: once(
      "switchyard_grpc_request_duration_seconds",
      () =>
        new Histogram({
          name: "switchyard_grpc_request_duration_seconds",
          help: "gRPC call duration by method and final status code name (a watch: how long it was open)",
          labelNames: ["method", "code"] as const,
          buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10, 60, 600],
          registers,
        }),
    ),
    feedReopened: once(
      "switchyard_grpc_watch_feed_reopened_total",
      () =>
        new Counter({
          name: "switchyard_grpc_watch_feed_reopened_total",
          help: "WatchPayment feeds read again with a new consumer: silent (no frame nor heartbeat, its node gone) or ended (its consumer gone)",
          labelNames: ["reason"] as const,
          registers,
        }),
    ),
    watches: once(
      "switchyard_grpc_watches",
      () => new Gauge({ name: "switchyard_grpc_watches", help: "WatchPayment streams open now", registers }),
    ),
  };
}
