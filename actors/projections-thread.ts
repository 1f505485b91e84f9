// The projections on a worker thread of the payment process (SWITCHYARD_PROJECTIONS=thread): the
// same followers as actors/projector-role.ts — read models, settlement, challenge expiry, webhook
// dispatcher and sender — with their own NATS, Redis and PostgreSQL connections and their own event
// loop, so a payment's gateway, actor and janitor never wait behind them. Not the default: on the
// 2-core machine the bench runs on, the machine is saturated before the payment loop is, and the
// thread's own read of every frame costs more than it frees (README, "Benchmark", eleventh round);
// a process with cores to spare, whose main loop is the limit, is what it is for.
//
// What crosses the thread boundary is small and never per payment: the start-up settings once, the
// thread's log lines in batches (written into this process's own log destination), its metrics when
// /metrics is scraped (merged into the process's: config/metrics.ts `addSource`), and stop. The
// frames themselves do not cross: the thread reads PAY_EVT through its own tap, as a `projector`
// process would — every follower keeps its position in PostgreSQL and applies a batch and moves the
// position in one transaction, so a thread that dies mid-batch is restarted and applies it once.
import { createRequire } from "node:module";
import { extname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import pino from "pino";
import type { Config } from "../config/env.ts";
import type { Logger } from "../config/log.ts";
import type { Metrics, MetricsJson } from "../config/metrics.ts";
import { tracingStart } from "../config/tracing.ts";
import type { FromThread, ThreadInit, ThreadStats, ToThread } from "./projections-thread-wire.ts";

export type ProjectionsThread = {
  /** The running thread's id (a new one after each restart); undefined while it is restarting. */
  readonly threadId: number | undefined;
  /** Times the thread ended unasked and was started again. */
  readonly restarts: number;
  /** The thread's heap and event loop, for the bench's report; undefined while it is restarting. */
  stats(): Promise<ThreadStats | undefined>;
  /** Ends the thread at once, as a crash would (tests, and the bench's kill): it is restarted. */
  kill(): Promise<void>;
  /** Stops the followers (each finishes its batch), closes the thread's connections, ends it. */
  stop(): Promise<void>;
};

/** The first restart waits this long, doubling up to RESTART_MAX_MS; a thread up a minute resets it. */
const RESTART_FIRST_MS = 1_000;
const RESTART_MAX_MS = 30_000;
const HEALTHY_AFTER_MS = 60_000;
/** How long stop waits for the thread to stop its followers before ending it. */
const STOP_WAIT_MS = 30_000;
/** How long a question to the thread (metrics, stats) may take before it counts as unanswered. */
const ASK_WAIT_MS = 5_000;

/** Projections threads of this process not yet exited (the tests see a failed start end its thread). */
let alive = 0;
export const projectionsThreadsAlive = (): number => alive;

type Running = {
  worker: Worker;
  startedAt: number;
  asks: Map<number, (value: unknown) => void>;
  stopped?: () => void;
};

/**
 * Starts the thread and waits until its followers run; a thread that cannot start (PostgreSQL
 * refusing, a migration failing) fails this call with its error, as the projections would in the
 * process itself.
 */
export async function startProjectionsThread(
  config: Config,
  o: { cardKey: Buffer; sandboxUrl: string; metrics: Metrics; log: Logger },
): Promise<ProjectionsThread> {
  const tracing = tracingStart();
  const init: ThreadInit = {
    config,
    cardKey: o.cardKey,
    sandboxUrl: o.sandboxUrl,
    ...(tracing && { tracing }),
  };
  const logStream = (o.log as unknown as Record<symbol, { write(chunk: string): unknown } | undefined>)[
    pino.symbols.streamSym
  ];
  let current: Running | undefined;
  let restarts = 0;
  let nextAskId = 0;
  let stopping = false;
  let restartTimer: NodeJS.Timeout | undefined;
  let delayMs = RESTART_FIRST_MS;

  const ask = <T>(q: "metrics" | "stats"): Promise<T | undefined> => {
    const run = current;
    if (run === undefined) return Promise.resolve(undefined);
    const id = nextAskId++;
    return new Promise<T | undefined>((resolve) => {
      const timer = setTimeout(() => {
        run.asks.delete(id);
        resolve(undefined);
      }, ASK_WAIT_MS);
      run.asks.set(id, (value) => {
        clearTimeout(timer);
        resolve(value as T);
      });
      run.worker.postMessage({ type: q, id } satisfies ToThread);
    });
  };

  const launch = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const entry = threadEntry();
      const worker = new Worker(entry.code, { eval: entry.eval, workerData: init, name: "projections" });
      alive++;
      const run: Running = { worker, startedAt: Date.now(), asks: new Map() };
      let ready = false;
      worker.on("message", (m: FromThread) => {
        switch (m.type) {
          case "log":
            if (logStream) logStream.write(m.chunk);
            else process.stdout.write(m.chunk);
            return;
          case "ready":
            ready = true;
            if (stopping) {
              // A restart that came up while the process was stopping: ended at once (its followers
              // have applied nothing that a transaction left half done).
              void worker.terminate();
              resolve();
              return;
            }
            current = run;
            o.log.info({ threadId: worker.threadId }, "projections running on their own thread");
            resolve();
            return;
          case "failed":
            // Ended whatever it left open (a connection half made): the start failed as a whole.
            void worker.terminate();
            reject(Object.assign(new Error(m.message), { stack: m.stack }));
            return;
          case "answer":
            run.asks.get(m.id)?.(m.value);
            run.asks.delete(m.id);
            return;
          case "stopped":
            run.stopped?.();
            return;
        }
      });
      worker.on("error", (err) => {
        if (!ready) reject(err);
        else o.log.error({ err, threadId: worker.threadId }, "projections thread failed");
      });
      worker.on("exit", (code) => {
        alive--;
        for (const answer of run.asks.values()) answer(undefined);
        run.asks.clear();
        run.stopped?.();
        if (!ready) {
          reject(new Error(`projections thread exited with code ${code} before it started`));
          return;
        }
        if (current === run) current = undefined;
        if (stopping) return;
        // Unasked: a follower's error escaped, or the thread was killed. The followers resume from
        // their positions in PostgreSQL; nothing was acknowledged that was not applied.
        if (Date.now() - run.startedAt > HEALTHY_AFTER_MS) delayMs = RESTART_FIRST_MS;
        restartLater(
          { code },
          "projections thread ended unasked; restarting it (the read models and webhooks wait meanwhile)",
        );
      });
    });

  /** Counted, logged, and started again after the current delay, which doubles for the next. */
  const restartLater = (fields: Record<string, unknown>, msg: string) => {
    restarts++;
    o.metrics.projectionsThreadRestarts.inc();
    o.log.error({ ...fields, restarts, restartInMs: delayMs }, msg);
    const wait = delayMs;
    delayMs = Math.min(delayMs * 2, RESTART_MAX_MS);
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      if (stopping) return;
      launch().catch((err: unknown) =>
        restartLater({ err }, "projections thread could not restart; trying again"),
      );
    }, wait);
  };

  await launch();
  const removeSource = o.metrics.addSource(async () => (await ask<MetricsJson>("metrics")) ?? []);

  return {
    get threadId() {
      return current?.worker.threadId;
    },
    get restarts() {
      return restarts;
    },
    async stats() {
      const run = current;
      const s = await ask<ThreadStats>("stats");
      if (s === undefined || run === undefined) return undefined;
      return { ...s, eventLoopUtilization: run.worker.performance.eventLoopUtilization().utilization };
    },
    async kill() {
      const run = current;
      if (run === undefined) return;
      await run.worker.terminate();
    },
    async stop() {
      stopping = true;
      if (restartTimer !== undefined) clearTimeout(restartTimer);
      removeSource();
      const run = current;
      if (run === undefined) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          o.log.warn({ waitedMs: STOP_WAIT_MS }, "projections thread did not stop in time; ended");
          resolve();
        }, STOP_WAIT_MS);
        run.stopped = () => {
          clearTimeout(timer);
          resolve();
        };
        run.worker.postMessage({ type: "stop" } satisfies ToThread);
      });
      await run.worker.terminate();
      if (current === run) current = undefined;
    },
  };
}

/**
 * The thread's module: the built .js beside this one, or under tsx (npm start, the tests) the .ts,
 * which a worker thread only loads with tsx registered in it (a thread does not inherit the parent's
 * loader hooks on Node 20).
 */
function threadEntry(): { code: string | URL; eval: boolean } {
  // Its sibling of its own kind: the built .js beside the built .js, the .ts beside the .ts.
  const self = fileURLToPath(import.meta.url);
  const module = new URL(`./projections-thread-main${extname(self)}`, import.meta.url);
  if (!self.endsWith(".ts")) return { code: module, eval: false };
  // The ESM build of tsx's API (require.resolve answers its CommonJS twin beside it; import.meta.resolve
  // is not there when mocha loads this module through tsx).
  const tsx = pathToFileURL(
    createRequire(import.meta.url)
      .resolve("tsx/esm/api")
      .replace(/\.cjs$/, ".mjs"),
  ).href;
  return {
    code: `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(module.href)}); })`,
    eval: true,
  };
}
