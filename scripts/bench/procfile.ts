// The Procfile's roles as separate processes, for `npm run bench -- --procfile` (and --workers N):
// issue 7 asks whether gateway, worker and sandbox in separate processes (each with its own event
// loop, so a 2-core machine can run two of them at once) beat the single process; since issue 17 the
// projector is a fourth (the worker runs with SWITCHYARD_PROJECTIONS=off, as the Procfile says), so
// this is the deployed shape. This module starts the Procfile's entry points (no npm start code) with
// tsx from the sources — the Procfile runs the same modules compiled (`npm run build`), which the
// bench does not wait for — under their own prefix, ports, card key and data dir so they never share
// streams or consumers with the in-process product; waits until they answer; reads their CPU from
// /proc (a child's process.cpuUsage() is not visible from here); stops them with SIGTERM (they finish
// in-flight work and exit on their own). procfile-report.ts reports them next to the single process,
// measured by the same client in alternating phases.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { NODE_FLAGS } from "../../config/node-flags.ts";
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { errorText, type Op, type RunResult } from "./load.ts";
import { freePort } from "../free-port.ts";

export const ROLES = ["gateway", "worker", "projector", "sandbox"] as const;
export type ProcRole = (typeof ROLES)[number];

/** The Procfile's entry points, relative to the repository root. */
const ENTRY: Record<ProcRole, string> = {
  gateway: "gateway/main.ts",
  worker: "actors/main.ts",
  projector: "actors/projector-main.ts",
  sandbox: "scripts/sandbox-main.ts",
};

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** CPU time of each role in ms, from /proc/<pid>/stat (utime + stime, all threads; workers summed). */
export type ChildCpuMs = Record<ProcRole, number>;

/** A child's name: its role, and for the second worker on `worker2`, `worker3`, … */
const childName = (role: ProcRole, k: number) => (k === 0 ? role : `${role}${k + 1}`);

export type Procfile = {
  prefix: string;
  url: string;
  /** By child name: gateway, worker, worker2, …, projector, sandbox. */
  pids: Record<string, number>;
  /** The worker processes' pids, in start order. */
  workerPids: number[];
  /** Each role's CPU so far; undefined once any child is gone (its figures would be wrong). */
  cpuMs(): ChildCpuMs | undefined;
  /** SIGKILL the `k`th worker (0-based), as a crash would; resolves once it has exited. */
  killWorker(k: number): Promise<void>;
  /** SIGTERM to every child still running, then wait for them to exit (SIGKILL after a grace period). */
  stop(): Promise<void>;
};

/** How long start-up may take: three tsx compiles on a shared 2-core machine are slow. */
const START_TIMEOUT_MS = 90_000;
/** Graceful shutdown finishes in-flight commands and passivates actors; then it is a hang. */
const STOP_GRACE_MS = 20_000;

// /proc counts CPU in clock ticks; asked once, 100 on every Linux this has run on.
let clockTicks: number | undefined;
function clkTck(): number {
  if (clockTicks === undefined) {
    try {
      const n = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
      clockTicks = Number.isFinite(n) && n > 0 ? n : 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** A process's user + system CPU in ms from /proc — or one of its threads' (`thread`: its task id). */
export function procCpuMs(pid: number, thread?: number): number | undefined {
  try {
    const stat = readFileSync(
      thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`,
      "utf8",
    );
    // Fields after "(comm) ": state is [0], utime [11], stime [12]; comm may hold spaces, hence lastIndexOf.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clkTck();
  } catch {
    return undefined;
  }
}

/** GET `url`; the status, or undefined when nothing answers yet. */
async function status(url: string): Promise<number | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return undefined;
  }
}

/** The merchant the children bootstrap with the bench's API key. */
export const BENCH_MERCHANT = "m_bench";

export type ProcfileOptions = {
  /**
   * Its own bench prefix (cleanup.ts's benchPrefix), so a killed run's streams match the sweep's
   * pattern; chosen by the caller, which must clean it up even when start-up fails half-way.
   */
  prefix: string;
  natsUrl: string;
  redisUrl: string;
  partitions: number;
  /** Worker processes (the Procfile's `worker` line run this many times); 1 when absent. */
  workers?: number;
  /** The bench merchant's key: `m_bench:<apiKey>` is bootstrapped in the children's prefix. */
  apiKey: string;
  /** The bench's temp dir; the children get a directory of their own inside it. */
  dataDir: string;
  log: (line: string) => void;
  signal: AbortSignal;
};

/**
 * Start sandbox, worker and gateway as child processes and return once a payment goes through. On
 * any failure the children already started are stopped before the error is thrown.
 */
export async function startProcfile(o: ProcfileOptions): Promise<Procfile> {
  const prefix = o.prefix;
  const [port, sandboxPort] = [await freePort(), await freePort()];
  const dataDir = join(o.dataDir, o.prefix);
  mkdirSync(dataDir, { recursive: true });
  const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
  // Like the single process: the caller's environment may tune the platform (partitions, reply
  // wait, log level), the bench owns what keeps the run apart. Gateway and worker must share the
  // card key, or the worker could not open the commands the gateway sealed; gateway and sandbox the
  // notification secrets.
  const env: NodeJS.ProcessEnv = {
    LOG_LEVEL: "info",
    ...process.env,
    NATS_URL: o.natsUrl,
    REDIS_URL: o.redisUrl,
    HOST: "127.0.0.1",
    PORT: String(port),
    GRPC_PORT: "0",
    SANDBOX_PORT: String(sandboxPort),
    SANDBOX_URL: sandboxUrl,
    SWITCHYARD_WORKER_METRICS_PORT: "0",
    SWITCHYARD_PROJECTOR_METRICS_PORT: "0",
    SWITCHYARD_PREFIX: prefix,
    SWITCHYARD_PARTITIONS: String(o.partitions),
    SWITCHYARD_BOOTSTRAP_KEYS: `${BENCH_MERCHANT}:${o.apiKey}`,
    SWITCHYARD_CARD_KEY: randomBytes(32).toString("hex"),
    // The production roles have no default notification secrets: the sandbox signs and the gateway
    // verifies with the same per-run pair, as an operator sets them (docs/notifications.md).
    SWITCHYARD_ACME_WEBHOOK_SECRET: `whsec_${randomBytes(24).toString("hex")}`,
    SWITCHYARD_BOLT_HMAC_KEY: randomBytes(32).toString("hex"),
    SWITCHYARD_DATA_DIR: dataDir,
    SANDBOX_PERSIST: "false",
  };
  const children = new Map<string, ChildProcess>();
  const exited = new Map<string, string>();
  const tails = new Map<string, string[]>();
  const logFiles = new Map<string, string>();
  /** The last lines a child wrote, its log file's and its stderr's, for a start-up failure. */
  const lastWords = (role: string): string => {
    let logged: string[] = [];
    try {
      logged = readFileSync(logFiles.get(role) ?? "", "utf8")
        .trim()
        .split("\n")
        .slice(-5);
    } catch {
      logged = [];
    }
    return [...logged, ...(tails.get(role) ?? [])].join(" | ");
  };
  const stop = async () => {
    await Promise.all(
      [...children].map(async ([role, child]) => {
        if (exited.has(role)) return;
        const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill("SIGTERM");
        const timer = setTimeout(() => {
          o.log(`procfile ${role}: no exit ${STOP_GRACE_MS / 1000} s after SIGTERM, sending SIGKILL`);
          child.kill("SIGKILL");
        }, STOP_GRACE_MS);
        await gone;
        clearTimeout(timer);
      }),
    );
  };
  const spawnRole = (role: ProcRole, name: string) => {
    // Not detached: a Ctrl-C in the terminal reaches the children too, and they stop gracefully on
    // SIGINT by themselves even when tsx SIGKILLs a bench too busy to acknowledge it.
    // Their log lines (LOG_LEVEL, info by default, as the single process) go straight to a file of
    // their own: nothing passes through this process, whose CPU is part of the measure.
    const logFile = join(dataDir, `${name}.log`);
    const out = openSync(logFile, "a");
    // BENCH_CHILD_CPU_PROF=<dir>: each child writes CPU profiles under it when it exits (SIGTERM at
    // the end of its set), for `profile-summary` (node refuses --cpu-prof in NODE_OPTIONS).
    const prof = process.env.BENCH_CHILD_CPU_PROF;
    // One directory per child: the main thread's profile is the largest file in it (tsx's loader
    // thread writes one too).
    const profile = prof ? ["--cpu-prof", `--cpu-prof-dir=${join(prof, `${prefix}-${name}`)}`] : [];
    // The V8 flags the Procfile's lines give each role (config/node-flags.ts).
    const child = spawn(process.execPath, [...profile, ...NODE_FLAGS, "--import", "tsx", ENTRY[role]], {
      cwd: ROOT,
      // As the Procfile's worker line: the projector runs the projections.
      env: role === "worker" ? { ...env, SWITCHYARD_PROJECTIONS: "off" } : env,
      stdio: ["ignore", out, "pipe"],
    });
    closeSync(out);
    logFiles.set(name, logFile);
    children.set(name, child);
    const tail: string[] = [];
    tails.set(name, tail);
    // What they write to stderr (start-up failures, warnings) is shown, prefixed.
    const forward = (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.trim() === "") continue;
        tail.push(line);
        if (tail.length > 20) tail.shift();
        process.stderr.write(`procfile ${name}: ${line}\n`);
      }
    };
    child.stderr?.on("data", forward);
    child.once("exit", (code, sig) => exited.set(name, sig ?? `exit ${code}`));
    child.once("error", (err) => exited.set(name, errorText(err)));
  };

  try {
    // The sandbox first: the worker's PSP clients point at it.
    const workers = o.workers ?? 1;
    for (const role of ["sandbox", "worker", "projector", "gateway"] as const)
      for (let k = 0; k < (role === "worker" ? workers : 1); k++) spawnRole(role, childName(role, k));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + START_TIMEOUT_MS;
    const waitFor = async (what: string, ok: () => Promise<boolean>) => {
      for (;;) {
        if (o.signal.aborted) throw new Error("interrupted while the procfile roles started");
        const dead = [...exited].map(([role, how]) => `${role} (${how}): ${lastWords(role)}`);
        if (dead.length > 0) throw new Error(`procfile role ended during start-up: ${dead.join("; ")}`);
        if (await ok()) return;
        if (Date.now() > deadline)
          throw new Error(`procfile: ${what} not ready within ${START_TIMEOUT_MS / 1000} s`);
        // Start-up, not a measurement: polling costs nothing that is measured.
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    };
    await waitFor(
      "sandbox",
      async () => (await status(`${sandboxUrl}/_sandbox/psps/acme/behaviour`)) === 200,
    );
    await waitFor("gateway /readyz", async () => (await status(`${url}/readyz`)) === 200);
    const pids = Object.fromEntries([...children].map(([name, c]) => [name, c.pid ?? -1]));
    const namesOf = (role: ProcRole) =>
      Array.from({ length: role === "worker" ? workers : 1 }, (_, k) => childName(role, k));
    const workerPids = namesOf("worker").map((name) => pids[name] ?? -1);
    return {
      prefix,
      url,
      pids,
      workerPids,
      cpuMs() {
        if (exited.size > 0) return undefined;
        const cpu: ChildCpuMs = { gateway: 0, worker: 0, projector: 0, sandbox: 0 };
        for (const role of ROLES)
          for (const name of namesOf(role)) {
            const ms = procCpuMs(pids[name] ?? -1);
            if (ms === undefined) return undefined;
            cpu[role] += ms;
          }
        return cpu;
      },
      async killWorker(k: number) {
        const name = childName("worker", k);
        const child = children.get(name);
        if (!child || exited.has(name)) throw new Error(`procfile: no running ${name} to kill`);
        const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill("SIGKILL");
        await gone;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * /readyz says the gateway reaches NATS and Redis, not that the worker consumes yet: one payment
 * answered 201 does. Retries (a 202 or an error) for up to `timeoutMs`.
 */
export async function firstPayment(op: Op, timeoutMs = START_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (let n = 0; Date.now() < deadline; n++) {
    last = await op(0, n).catch((err: unknown) => `error: ${errorText(err)}`);
    if (last === "201") return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`procfile: no payment answered 201 within ${timeoutMs / 1000} s (last: ${last})`);
}

/** One measured procfile phase: the client's view plus the children's CPU over the same window. */
export type ProcfileRound = { run: RunResult; childCpuMs: ChildCpuMs };

export const childCpuDelta = (a: ChildCpuMs, b: ChildCpuMs): ChildCpuMs => ({
  gateway: b.gateway - a.gateway,
  worker: b.worker - a.worker,
  projector: b.projector - a.projector,
  sandbox: b.sandbox - a.sandbox,
});

/** The children's CPU, all roles together. */
export const childSum = (c: ChildCpuMs): number => c.gateway + c.worker + c.projector + c.sandbox;
