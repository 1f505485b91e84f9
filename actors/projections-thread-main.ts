// The projections thread's own module (started by actors/projections-thread.ts, never run alone):
// opens the thread's connections, starts the projections (actors/projector-role.ts), and answers
// the process over its port — log lines in batches, metrics and stats when asked, stop.
import { readlinkSync } from "node:fs";
import { getHeapStatistics } from "node:v8";
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import { Writable } from "node:stream";
import { createLogger } from "../config/log.ts";
import { DEFAULT_LOG_FLUSH_MS } from "../config/log-format.ts";
import { createMetrics } from "../config/metrics.ts";
import { shutdownTracing, startTracing } from "../config/tracing.ts";
import { openInfra } from "../streams/infra.ts";
import { startProjections } from "./projector-role.ts";
import type { FromThread, ThreadInit, ToThread } from "./projections-thread-wire.ts";

/** This thread's id in the operating system: /proc/thread-self links to /proc/<pid>/task/<tid>. */
function osThreadId(): number | undefined {
  try {
    const tid = Number(readlinkSync("/proc/thread-self").split("/").at(-1));
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/** A batch of log lines goes to the process when it reaches this size, or every flush interval. */
const LOG_BATCH_BYTES = 64 * 1024;

/**
 * The thread's log destination: whole lines, gathered and posted to the process, which writes them
 * into its own destination (one writer per file or pipe: lines never interleave mid-line).
 */
class PortLog extends Writable {
  #lines: string[] = [];
  #bytes = 0;
  #timer: NodeJS.Timeout | undefined;
  constructor(private readonly port: MessagePort) {
    super({ decodeStrings: false });
  }
  override _write(chunk: string | Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    const line = typeof chunk === "string" ? chunk : chunk.toString("utf8");
    this.#lines.push(line);
    this.#bytes += line.length;
    if (this.#bytes >= LOG_BATCH_BYTES) this.flushNow();
    else this.#timer ??= setTimeout(() => this.flushNow(), DEFAULT_LOG_FLUSH_MS).unref();
    done();
  }
  flushNow(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#lines.length === 0) return;
    const chunk = this.#lines.join("");
    this.#lines = [];
    this.#bytes = 0;
    this.port.postMessage({ type: "log", chunk } satisfies FromThread);
  }
}

const port = parentPort;
if (port === null) throw new Error("actors/projections-thread-main.ts runs only as a worker thread");
const init = workerData as ThreadInit;
const logs = new PortLog(port);
const log = createLogger(
  init.config.logLevel,
  { service: "switchyard", role: "worker", thread: "projections" },
  logs,
);
const post = (m: FromThread) => port.postMessage(m);
const tid = osThreadId();

// Spans of this thread (the webhook attempts) exported as the process exports its own.
if (init.tracing) startTracing(init.tracing.serviceName, init.tracing.env);

try {
  const metrics = createMetrics();
  const infra = await openInfra(init.config, "switchyard-projections", log);
  const projections = await startProjections(init.config, infra, {
    cardKey: Buffer.from(init.cardKey),
    sandboxUrl: init.sandboxUrl,
    metrics,
    log,
  }).catch(async (err: unknown) => {
    await infra.close().catch(() => undefined);
    throw err;
  });
  let stopping: Promise<void> | undefined;
  port.on("message", (m: ToThread) => {
    switch (m.type) {
      case "metrics":
        void metrics.registry.getMetricsAsJSON().then(
          (value) => post({ type: "answer", id: m.id, value }),
          () => post({ type: "answer", id: m.id, value: [] }),
        );
        return;
      case "stats": {
        const heap = getHeapStatistics();
        post({
          type: "answer",
          id: m.id,
          value: {
            heapUsedBytes: heap.used_heap_size,
            heapTotalBytes: heap.total_heap_size,
            ...(tid !== undefined && { osThreadId: tid }),
          },
        });
        return;
      }
      case "stop":
        stopping ??= (async () => {
          await projections
            .stop()
            .catch((err: unknown) => log.error({ err }, "error while stopping projections"));
          await infra.close().catch((err: unknown) => log.error({ err }, "error while closing connections"));
          await shutdownTracing().catch(() => undefined);
          logs.flushNow();
          post({ type: "stopped" });
          port.close();
        })();
        return;
    }
  });
  post({ type: "ready" });
} catch (err) {
  logs.flushNow();
  const e = err instanceof Error ? err : new Error(String(err));
  post({ type: "failed", message: e.message, ...(e.stack !== undefined && { stack: e.stack }) });
  port.close();
}
