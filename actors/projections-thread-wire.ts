// What the payment process and its projections thread (actors/projections-thread.ts) say to each
// other over the thread's port. Structured-clone data only.
import type { Config } from "../config/env.ts";
import type { MetricsJson } from "../config/metrics.ts";
import type { TracingStart } from "../config/tracing.ts";

/**
 * The thread's workerData: what it needs to open its own connections and start the followers, and
 * the process's tracing settings when it traces (the webhook attempts' spans are the thread's).
 */
export type ThreadInit = { config: Config; cardKey: Uint8Array; sandboxUrl: string; tracing?: TracingStart };

export type ThreadStats = {
  /** V8's heap of the thread's own isolate. */
  heapUsedBytes: number;
  heapTotalBytes: number;
  /** Share of the thread's time its event loop was busy since it started (0..1). */
  eventLoopUtilization?: number;
  /**
   * The thread's id in the operating system (Linux: /proc/self/task/<id> holds its CPU time, which
   * the bench reads to split the process's CPU); undefined where there is no /proc.
   */
  osThreadId?: number;
};

export type ToThread = { type: "stop" } | { type: "metrics"; id: number } | { type: "stats"; id: number };

export type FromThread =
  | { type: "ready" }
  | { type: "failed"; message: string; stack?: string }
  | { type: "log"; chunk: string }
  | { type: "answer"; id: number; value: MetricsJson | ThreadStats }
  | { type: "stopped" };
