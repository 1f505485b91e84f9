// A role as an operating-system process: read and check the configuration (a bad value stops
// start-up with every bad variable named, exit 2), start, and stop in order on SIGTERM/SIGINT.
// Start-up failures we can foresee are said in one line a newcomer can act on (exit 1). Tracing
// (config/tracing.ts) starts before the role when OTEL_EXPORTER_OTLP_ENDPOINT says so, and is
// flushed after the role stopped.
import { ConfigError, loadConfig, type Config } from "./env.ts";
import { shutdownTracing, startTracing } from "./tracing.ts";

export type Running = {
  stop(): Promise<void>;
  log: { info(o: object, msg: string): void; flush?(cb?: (err?: Error) => void): void };
};

/** How long a stopping process waits for its buffered log lines to be written (config/log-format.ts). */
const LOG_FLUSH_ON_EXIT_MS = 2_000;

/** `service`: the traces' service.name, unless OTEL_SERVICE_NAME says otherwise. */
export async function runProcess(
  service: string,
  start: (config: Config) => Promise<Running>,
): Promise<Running> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`switchyard: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  startTracing(service);
  let running: Running;
  try {
    running = await start(config);
  } catch (err) {
    process.stderr.write(`switchyard: could not start: ${startError(err)}\n`);
    process.exit(1);
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    running.log.info({ signal }, "stopping: no new commands, finishing in-flight ones");
    await running.stop();
    await shutdownTracing().catch(() => undefined); // spans lost, the process stops all the same
    // The log lines are buffered: wait for the write under way and the rest, not only pino's
    // synchronous flush at exit, which cannot wait for a write already handed to the OS thread pool
    // (a stopping worker's last lines, "stopping" among them, were seen lost in CI).
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, LOG_FLUSH_ON_EXIT_MS);
      const done = () => (clearTimeout(timer), resolve());
      if (running.log.flush) running.log.flush(done);
      else done();
    });
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  return running;
}

/** One line a newcomer can act on, for the start-up failures we can foresee. */
export function startError(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e.code === "EADDRINUSE")
    return `${e.address}:${e.port} is already in use (another Switchyard running? set PORT / SANDBOX_PORT)`;
  if (e.code === "ECONNREFUSED") return `${e.message} (is the server running? see NATS_URL / REDIS_URL)`;
  return e instanceof Error ? `${e.name}: ${e.message}` : String(err);
}
