// The gRPC surface's metrics, on the process's registry (config/metrics.ts): calls by method and
// final gRPC status, their duration, and the watches open now.
import { Counter, Gauge, Histogram } from "prom-client";
import type { Metrics } from "../../config/metrics.ts";

export type GrpcMetrics = ReturnType<typeof grpcMetrics>;

export function grpcMetrics(metrics: Pick<Metrics, "registry">) {
  const registers = [metrics.registry];
  return {
    requests: new Counter({
      name: "switchyard_grpc_requests_total",
      help: "gRPC calls by method and final status code name (OK, INVALID_ARGUMENT, ...)",
      labelNames: ["method", "code"] as const,
      registers,
    }),
    duration: new Histogram({
      name: "switchyard_grpc_request_duration_seconds",
      help: "gRPC call duration by method and final status code name (a watch: how long it was open)",
      labelNames: ["method", "code"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10, 60, 600],
      registers,
    }),
    watches: new Gauge({
      name: "switchyard_grpc_watches",
      help: "WatchPayment streams open now",
      registers,
    }),
  };
}
