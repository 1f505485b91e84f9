// The bench's measuring instruments, shared by the bare flow, the product and the JetStream baseline
// so all are measured the same way: a closed-loop driver (C workers, each waiting for its answer
// before the next call), an open-loop driver (a fixed arrival rate, latency from the intended send
// time so queueing is not hidden), latency percentiles, and CPU accounting for this process, the
// machine and the local NATS/Redis servers — because on one machine "what limits throughput" is
// mostly "who has the CPU".
import { readFileSync, readdirSync } from "node:fs";
import { cpus } from "node:os";
import { performance, type EventLoopUtilization } from "node:perf_hooks";

/** One call of the thing under test; resolves to an outcome label ("201", "ok", ...). */
export type Op = (worker: number, n: number) => Promise<string>;

export type Latency = { p50: number; p95: number; p99: number; max: number; mean: number };

export type Cpu = {
  /** Share of wall time the Node event loop was busy (1 = saturated: everything queues behind it). */
  eventLoopUtilization: number;
  /** CPU cores this Node process used on average (user + system, all threads). */
  processCores: number;
  /** CPU time this Node process used in the window (process.cpuUsage() delta, user + system), ms. */
  processCpuMs: number;
  /** CPU cores the local nats-server / redis-server processes used (null: not visible here). */
  natsServerCores: number | null;
  redisServerCores: number | null;
  /** Busy share of the whole machine (all cores). */
  machineBusy: number;
  /** Cores busy with anything else (other test runs, other services): a noisy neighbour shows here. */
  otherCores: number;
  /**
   * With SWITCHYARD_PROJECTIONS=thread, the CPU time of the followers' thread in the window, ms (part
   * of processCpuMs): the followers' share measured in the same window as the payments. The bench sets it.
   */
  followersThreadCpuMs?: number;
};

export type RunResult = {
  completed: number;
  elapsedS: number;
  perSecond: number;
  outcomes: Record<string, number>;
  latencyMs: Latency;
  cpu: Cpu;
  /**
   * The window on process.hrtime's clock, in µs: V8's CPU profiles use the same monotonic clock, so
   * profile-summary.ts can take the samples of exactly the measured windows.
   */
  windowUs: [number, number];
};

export type OpenLoopResult = RunResult & {
  /** Arrivals scheduled (rate × duration). */
  scheduled: number;
  /** Arrivals not sent because `maxOutstanding` requests were already waiting: the rate was not served. */
  dropped: number;
  /** How late the sender itself got behind its schedule at worst (a saturated event loop), ms. */
  maxSendLagMs: number;
};

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

/**
 * C workers call `op` in a loop until `durationMs` has passed; calls in flight at the deadline are
 * finished and counted, and the rate is taken over the time until the last one ended. An aborted
 * signal ends the loop early (Ctrl-C).
 */
export async function closedLoop(
  concurrency: number,
  durationMs: number,
  op: Op,
  signal?: AbortSignal,
): Promise<RunResult> {
  const latencies: number[] = [];
  const outcomes: Record<string, number> = {};
  const cpu = startCpuSample();
  const startUs = nowUs();
  const started = performance.now();
  const deadline = started + durationMs;
  const worker = async (w: number) => {
    for (let n = 0; performance.now() < deadline && !signal?.aborted; n++) {
      const t0 = performance.now();
      const outcome = await op(w, n).catch((err: unknown) => `error: ${errorText(err)}`);
      latencies.push(performance.now() - t0);
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const elapsedS = (performance.now() - started) / 1000;
  return {
    completed: latencies.length,
    elapsedS,
    perSecond: latencies.length / elapsedS,
    outcomes,
    latencyMs: summarize(latencies),
    cpu: cpu.end(),
    windowUs: [startUs, nowUs()],
  };
}

/**
 * Arrivals at a fixed `rate` per second for `durationMs`, each sent at its scheduled time whether
 * or not earlier ones were answered; latency runs from the scheduled (intended) time, so time spent
 * waiting for a busy event loop or a late sender counts (no coordinated omission). At most
 * `maxOutstanding` requests wait at once; an arrival beyond that is dropped and counted, not
 * queued, since an unbounded queue would only measure itself. Sent requests are all awaited.
 */
export async function openLoop(
  rate: number,
  durationMs: number,
  op: Op,
  maxOutstanding: number,
  signal?: AbortSignal,
): Promise<OpenLoopResult> {
  const latencies: number[] = [];
  const outcomes: Record<string, number> = {};
  const cpu = startCpuSample();
  const startUs = nowUs();
  const started = performance.now();
  const intervalMs = 1000 / rate;
  const scheduled = Math.floor((durationMs / 1000) * rate);
  const inFlight = new Set<Promise<void>>();
  let dropped = 0;
  let maxSendLagMs = 0;
  let i = 0;
  while (i < scheduled && !signal?.aborted) {
    const now = performance.now();
    // Everything due by now goes out in this turn: a late timer must not thin out the arrivals.
    for (; i < scheduled && started + i * intervalMs <= now; i++) {
      const intended = started + i * intervalMs;
      maxSendLagMs = Math.max(maxSendLagMs, now - intended);
      if (inFlight.size >= maxOutstanding) {
        dropped++;
        continue;
      }
      const sent: Promise<void> = op(0, i)
        .catch((err: unknown) => `error: ${errorText(err)}`)
        .then((outcome) => {
          latencies.push(performance.now() - intended);
          outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
          inFlight.delete(sent);
        });
      inFlight.add(sent);
    }
    const wait = started + i * intervalMs - performance.now();
    // A timer, never setImmediate: spinning would bill the sender's CPU to the flow under test.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
  }
  await Promise.all(inFlight);
  const elapsedS = (performance.now() - started) / 1000;
  return {
    completed: latencies.length,
    elapsedS,
    perSecond: latencies.length / elapsedS,
    outcomes,
    latencyMs: summarize(latencies),
    cpu: cpu.end(),
    windowUs: [startUs, nowUs()],
    scheduled,
    dropped,
    maxSendLagMs,
  };
}

export function summarize(values: number[]): Latency {
  if (values.length === 0) return { p50: NaN, p95: NaN, p99: NaN, max: NaN, mean: NaN };
  const sorted = Float64Array.from(values).sort();
  // Nearest rank: the smallest value with at least q of the samples at or below it.
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
    max: sorted[sorted.length - 1] ?? NaN,
    mean: sum / sorted.length,
  };
}

export function errorText(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function startCpuSample() {
  const elu0: EventLoopUtilization = performance.eventLoopUtilization();
  const proc0 = process.cpuUsage();
  const machine0 = machineTimes();
  const servers0 = serverTicks();
  const t0 = performance.now();
  return {
    end(): Cpu {
      const wallS = (performance.now() - t0) / 1000;
      const proc = process.cpuUsage(proc0);
      const machine1 = machineTimes();
      const servers1 = serverTicks();
      const cores = (name: string) => {
        const ms = serverCpuMs(servers0, servers1, name);
        return ms === null ? null : ms / 1000 / wallS;
      };
      const processCores = (proc.user + proc.system) / 1e6 / wallS;
      const natsServerCores = cores("nats-server");
      const redisServerCores = cores("redis-server");
      const machineBusy = 1 - (machine1.idle - machine0.idle) / (machine1.total - machine0.total || 1);
      const ours = processCores + (natsServerCores ?? 0) + (redisServerCores ?? 0);
      return {
        eventLoopUtilization: performance.eventLoopUtilization(elu0).utilization,
        processCores,
        processCpuMs: (proc.user + proc.system) / 1000,
        natsServerCores,
        redisServerCores,
        machineBusy,
        otherCores: Math.max(0, machineBusy * cpus().length - ours),
      };
    },
  };
}

function machineTimes(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const { times } of cpus()) {
    idle += times.idle;
    total += times.user + times.nice + times.sys + times.idle + times.irq;
  }
  return { idle, total };
}

/**
 * CPU ms the servers named `name` used between two serverTicks() readings; null when either reading
 * lacks them. /proc/<pid>/stat counts in clock ticks, 100 per second on every Linux this runs on.
 */
export function serverCpuMs(
  before: Map<string, number> | undefined,
  after: Map<string, number> | undefined,
  name: string,
): number | null {
  const a = before?.get(name);
  const b = after?.get(name);
  return a === undefined || b === undefined ? null : (b - a) * 10;
}

/** The servers whose CPU the bench reads from /proc: every process of each name counts. */
const SERVER_NAMES = new Set(["nats-server", "redis-server", "postgres"]);

/** utime + stime of every process named nats-server / redis-server / postgres (Linux /proc only). */
export function serverTicks(): Map<string, number> | undefined {
  try {
    const ticks = new Map<string, number>();
    for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const name = /\(([^)]*)\)/.exec(stat)?.[1];
        if (name === undefined || !SERVER_NAMES.has(name)) continue;
        // Fields after "(comm) ": state is [0], utime [11], stime [12].
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        ticks.set(name, (ticks.get(name) ?? 0) + Number(fields[11]) + Number(fields[12]));
      } catch {
        // the process ended while we looked
      }
    }
    return ticks;
  } catch {
    return undefined;
  }
}
