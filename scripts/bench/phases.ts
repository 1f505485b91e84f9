// The phase mode of `npm run bench` (--phases N --phase-payments K; issue 17: "flat as history
// grows: rate and RSS after 100,000 payments within 10 % of those after 10,000"). The product runs
// continuously — one closed loop of C clients for N × K payments, never stopped between phases —
// and each time K more payments have been answered the phase's figures are taken: rate, p50/p99,
// CPU per payment, RSS, V8 heap used, external memory, live payment actors. Printed: a line per
// phase, the ratios last phase ÷ first phase, the followers' lag and the idle CPU once the load
// stops (scripts/bench/after-load.ts), and the memory per component at the end of the first and
// the last phase (scripts/bench/memory.ts). A bare-flow phase before and after, for reference.
// With --heap-snapshots the load pauses (in-flight payments finish) after the first phase for a
// snapshot, and the next phase's clock starts once it resumes; the last one is taken after the load.
import { performance } from "node:perf_hooks";
import type { Platform } from "../platform.ts";
import { afterLoad, afterLoadLines, type AfterLoad } from "./after-load.ts";
import { r1, r3 } from "./figures.ts";
import type { HeapSummary } from "./heap-summary.ts";
import {
  closedLoop,
  errorText,
  serverCpuMs,
  serverTicks,
  summarize,
  type Op,
  type RunResult,
} from "./load.ts";
import { heapSummary, memoryFigures, memoryLines, type MemoryFigures } from "./memory.ts";

export type PhaseModeInput = {
  phases: number;
  phasePayments: number;
  concurrency: number;
  warmupS: number;
  durationS: number;
  heapSnapshots: boolean;
  /** Where the heap snapshots are written (the run's temp dir). */
  dir: string;
  product: Op;
  bare: Op | undefined;
  platform: Platform;
  /** The product's subscribed endpoint's receiver, when there is one. */
  receiver: { delivered(): number } | undefined;
  /** The product's setup line (scripts/bench/product.ts). */
  setup: string;
  signal: AbortSignal;
  say: (line: string) => void;
};

export type Phase = {
  phase: number;
  payments: number;
  elapsedS: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  cpuMsPerPayment: number;
  /**
   * CPU of the local nats-server and PostgreSQL (every `postgres` process: the server and its
   * backends) per payment, ms (null: not visible, e.g. PGlite in the process): when the rate falls
   * as history grows while this process's CPU per payment stays flat, these say whether the servers
   * took the difference.
   */
  natsMsPerPayment: number | null;
  postgresMsPerPayment: number | null;
  rssMb: number;
  heapUsedMb: number;
  externalMb: number;
  liveActors: number;
  /** Answers other than 201 (202s included: flagged, as in the rounds). */
  not201: number;
};

const MB = 1024 * 1024;

/** A server's ms per payment, or a dash when it was not visible. */
const ms2 = (v: number | null): string => (v === null ? "–" : v.toFixed(2));

/** Runs the phase mode; prints its report and BENCH_RESULT; resolves to the number of failed requests. */
export async function phaseMode(i: PhaseModeInput): Promise<number> {
  const { say, signal } = i;
  const C = i.concurrency;
  const total = i.phases * i.phasePayments;
  const firstWarmS = Math.max(i.warmupS, 5);
  let bareBefore: RunResult | undefined;
  if (i.bare) {
    say(`phase mode: bare flow for reference, ${firstWarmS} s warm-up + ${i.durationS} s`);
    await closedLoop(C, firstWarmS * 1000, i.bare, signal);
    bareBefore = await closedLoop(C, i.durationS * 1000, i.bare, signal);
  }
  say(
    `phase mode: product warm-up ${firstWarmS} s, then ${i.phases} phases × ${i.phasePayments} payments, ${C} clients`,
  );
  const warm = await closedLoop(C, firstWarmS * 1000, i.product, signal);

  const phases: Phase[] = [];
  let firstMem: MemoryFigures | undefined;
  let firstHeap: HeapSummary | undefined;
  let latencies: number[] = [];
  let not201 = 0;
  let errors = 0;
  let started = 0;
  let done = 0;
  let inFlight = 0;
  let t0 = performance.now();
  let cpu0 = process.cpuUsage();
  let ticks0 = serverTicks();
  let paused: Promise<void> | undefined;
  const closePhase = () => {
    const now = performance.now();
    const cpu = process.cpuUsage(cpu0);
    const ticks1 = serverTicks();
    const serverMs = (name: string): number | null => {
      const ms = serverCpuMs(ticks0, ticks1, name);
      return ms === null || latencies.length === 0 ? null : ms / latencies.length;
    };
    const m = process.memoryUsage();
    const l = summarize(latencies);
    const p: Phase = {
      phase: phases.length + 1,
      payments: latencies.length,
      elapsedS: (now - t0) / 1000,
      perSecond: latencies.length / ((now - t0) / 1000),
      p50Ms: l.p50,
      p99Ms: l.p99,
      cpuMsPerPayment: (cpu.user + cpu.system) / 1000 / latencies.length,
      natsMsPerPayment: serverMs("nats-server"),
      postgresMsPerPayment: serverMs("postgres"),
      rssMb: m.rss / MB,
      heapUsedMb: m.heapUsed / MB,
      externalMb: m.external / MB,
      liveActors: i.platform.worker?.registry.size ?? 0,
      not201,
    };
    phases.push(p);
    say(
      `phase ${p.phase}/${i.phases} (${done} payments): ${r1(p.perSecond)}/s  p50 ${p.p50Ms.toFixed(1)} ms  ` +
        `cpu ${p.cpuMsPerPayment.toFixed(2)} ms/payment (nats-server ${ms2(p.natsMsPerPayment)}, postgres ${ms2(p.postgresMsPerPayment)})  rss ${r1(p.rssMb)} MB  heap used ${r1(p.heapUsedMb)} MB` +
        `  live actors ${p.liveActors}` +
        (not201 > 0 ? `  NOT 201: ${not201}` : ""),
    );
    latencies = [];
    not201 = 0;
    if (p.phase === 1 && i.phases > 1) paused = figuresAfterFirst();
    t0 = performance.now();
    cpu0 = process.cpuUsage();
    ticks0 = serverTicks();
  };
  // The memory figure forces a full GC (and maybe a heap snapshot): the load stops taking new
  // payments, those in flight finish, the figures are taken, and the next phase's clock starts then.
  const figuresAfterFirst = async () => {
    while (inFlight > 0) await new Promise((r) => setTimeout(r, 5));
    say(
      `phase mode: memory figures${i.heapSnapshots ? " and heap snapshot" : ""} after phase 1 (load paused)`,
    );
    firstMem = await memoryFigures(i.platform);
    if (i.heapSnapshots) firstHeap = await heapSummary(i.dir, "phase1");
    paused = undefined;
    t0 = performance.now();
    cpu0 = process.cpuUsage();
    ticks0 = serverTicks();
  };
  const worker = async (w: number) => {
    for (let n = 0; !signal.aborted; n++) {
      while (paused) await paused;
      if (started >= total) return;
      started++;
      inFlight++;
      const t = performance.now();
      const outcome = await i.product(w, n).catch((err: unknown) => `error: ${errorText(err)}`);
      inFlight--;
      latencies.push(performance.now() - t);
      if (outcome !== "201") not201++;
      if (!outcome.startsWith("201") && !outcome.startsWith("202")) errors++;
      done++;
      if (done % i.phasePayments === 0) closePhase();
    }
  };
  await Promise.all(Array.from({ length: C }, (_, w) => worker(w)));
  const endedAt = performance.now();
  if (signal.aborted) return 0;
  const lastMem = await memoryFigures(i.platform);
  say("phase mode: waiting for the read models, then 5 s idle");
  const after: AfterLoad = await afterLoad(i.platform, endedAt, i.receiver);
  const lastHeap = i.heapSnapshots ? await heapSummary(i.dir, "last") : undefined;
  let bareAfter: RunResult | undefined;
  if (i.bare) {
    say(`phase mode: bare flow again, ${i.warmupS} s warm-up + ${i.durationS} s`);
    await closedLoop(C, i.warmupS * 1000, i.bare, signal);
    bareAfter = await closedLoop(C, i.durationS * 1000, i.bare, signal);
  }

  const first = phases[0];
  const last = phases[phases.length - 1];
  const ratio = (k: "perSecond" | "rssMb" | "heapUsedMb" | "cpuMsPerPayment" | "p50Ms") =>
    first && last ? last[k] / first[k] : NaN;
  const bareLine = (what: string, r: RunResult | undefined) =>
    r
      ? [
          `  bare ${what}: ${r1(r.perSecond)}/s  p50 ${r.latencyMs.p50.toFixed(1)} ms  ` +
            `cpu ${(r.cpu.processCpuMs / r.completed).toFixed(2)} ms/payment`,
        ]
      : [];
  const out = [
    "",
    `Switchyard bench, phase mode: ${i.phases} phases × ${i.phasePayments} payments, closed loop, ${C} clients, one continuous run` +
      (i.heapSnapshots
        ? " (paused after phase 1 for the memory figures and a heap snapshot, whose writing raises the RSS of every later phase)"
        : " (paused after phase 1 for the memory figures: a full GC)"),
    i.setup,
    `  warm-up before phase 1: ${warm.completed} payments, ${r1(warm.perSecond)}/s`,
    ...bareLine(`before (${i.durationS} s)`, bareBefore),
    "  phase  payments so far     rate/s   p50 ms   p99 ms  cpu ms/pay  nats ms/pay  pg ms/pay   RSS MB  heap used MB  external MB  live actors",
    ...phases.map(
      (p) =>
        `  ${String(p.phase).padStart(5)}  ${String(p.phase * i.phasePayments + warm.completed).padStart(15)}` +
        `  ${r1(p.perSecond).toFixed(1).padStart(9)}  ${p.p50Ms.toFixed(1).padStart(7)}  ${p.p99Ms.toFixed(1).padStart(7)}` +
        `  ${p.cpuMsPerPayment.toFixed(2).padStart(10)}  ${ms2(p.natsMsPerPayment).padStart(11)}  ${ms2(p.postgresMsPerPayment).padStart(9)}` +
        `  ${r1(p.rssMb).toFixed(1).padStart(7)}` +
        `  ${r1(p.heapUsedMb).toFixed(1).padStart(12)}  ${r1(p.externalMb).toFixed(1).padStart(11)}  ${String(p.liveActors).padStart(11)}` +
        (p.not201 > 0 ? `  (${p.not201} not 201)` : ""),
    ),
    `  last ÷ first phase: rate ${r3(ratio("perSecond"))}, RSS ${r3(ratio("rssMb"))}, heap used ${r3(ratio("heapUsedMb"))}, ` +
      `CPU per payment ${r3(ratio("cpuMsPerPayment"))}, p50 ${r3(ratio("p50Ms"))}  (target: rate and RSS within 10 %)`,
    ...bareLine(`after (${i.durationS} s)`, bareAfter),
    "",
    ...afterLoadLines(
      after,
      i.bare ? "the product and the bare flow idle in this process" : "the product alone",
    ),
  ];
  const firstFigures = firstMem;
  if (firstFigures)
    out.push(
      "",
      ...memoryLines(
        { label: "after phase 1", m: firstFigures, ...(firstHeap && { heap: firstHeap }) },
        { label: `after phase ${phases.length}`, m: lastMem, ...(lastHeap && { heap: lastHeap }) },
      ),
    );
  process.stdout.write(`${out.join("\n")}\n\n`);
  const result = {
    mode: "phases",
    phases: i.phases,
    phasePayments: i.phasePayments,
    concurrency: C,
    warmupPayments: warm.completed,
    perPhase: phases.map((p) =>
      Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v === null ? null : r3(v)])),
    ),
    lastOverFirst: {
      perSecond: r3(ratio("perSecond")),
      rss: r3(ratio("rssMb")),
      heapUsed: r3(ratio("heapUsedMb")),
      cpuMsPerPayment: r3(ratio("cpuMsPerPayment")),
    },
    bareBefore: bareBefore ? r1(bareBefore.perSecond) : null,
    bareAfter: bareAfter ? r1(bareAfter.perSecond) : null,
    afterLoad: after,
    memory: { first: firstFigures ?? null, last: lastMem },
    heap: lastHeap ? { first: firstHeap ?? null, last: lastHeap } : null,
  };
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
  return errors;
}
