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
  let running: Running | undefined;
  let stopping = false;
  const stop = async (role: Running, signal: string) => {
    if (stopping) return;
    stopping = true;
    role.log.info({ signal }, "stopping: no new commands, finishing in-flight ones");
    await role.stop();
    await shutdownTracing().catch(() => undefined); // spans lost, the process stops all the same
    // The log lines are buffered: wait for the write under way and the rest, not only pino's
    // synchronous flush at exit, which cannot wait for a write already handed to the OS thread pool
    // (a stopping worker's last lines, "stopping" among them, were seen lost in CI).
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, LOG_FLUSH_ON_EXIT_MS);
      const done = () => (clearTimeout(timer), resolve());
      if (role.log.flush) role.log.flush(done);
      else done();
    });
    process.exit(0);
  };
  // The signals are ours from before the start: a role may already take work while the rest of it
  // starts (a worker consumes commands before its projections are up), and a SIGTERM in that window
  // must stop it in order once it has started, not kill it with its commands in flight. A second
  // signal before then ends it at once (a start waiting on a server that never answers).
  let signalled: string | undefined;
  const onSignal = (signal: string) => {
    if (running !== undefined) void stop(running, signal);
    else if (signalled === undefined) {
      signalled = signal;
      process.stderr.write(`switchyard: ${signal} while starting: stopping once started (again: now)\n`);
    } else {
      process.stderr.write(`switchyard: ${signal} again while starting: exiting now\n`);
      process.exit(1);
    }
  };
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));
  try {
    running = await start(config);
  } catch (err) {
    process.stderr.write(`switchyard: could not start: ${startError(err)}\n`);
    process.exit(1);
  }
  if (signalled !== undefined) void stop(running, signalled);
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
