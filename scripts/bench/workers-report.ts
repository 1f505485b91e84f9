// The workers mode's report (scripts/bench/workers.ts): a line per set of Procfile roles (N workers,
// P partitions) with its rate, latencies, CPU per payment summed over every child and per role, its
// ratio to the first set, the single process measured beside it and the other load on the machine;
// then the kill's figures (scripts/bench/rebalance.ts). Text for people, an object for BENCH_RESULT.
import { cpus } from "node:os";
import { answerCounts, median, ms, r1, r3 } from "./figures.ts";
import type { RunResult } from "./load.ts";
import { childSum, type ChildCpuMs, type ProcfileRound } from "./procfile.ts";
import type { Rebalance } from "./rebalance.ts";

export type WorkerSet = { workers: number; partitions: number };

export type WorkerSetResult = WorkerSet & {
  prefix: string;
  rounds: ProcfileRound[];
  /** The product phases, each measured right before the round of the same index. */
  product: RunResult[];
  /**
   * Each role's CPU with no load, ms per second, over IDLE_MS after the rounds: a worker's fixed cost
   * (its 64 pull consumers, timers), which every extra worker adds whatever the rate.
   */
  idleMsPerS: ChildCpuMs | undefined;
  rebalance: Rebalance | undefined;
};

const num = (n: number) => (Number.isFinite(n) ? r3(n) : null);
const perPayment = (rounds: ProcfileRound[], f: (p: ProcfileRound) => number) =>
  median(rounds.map((p) => f(p) / p.run.completed));
const natsMs = (r: RunResult) =>
  r.cpu.natsServerCores === null ? NaN : (r.cpu.natsServerCores * r.elapsedS * 1000) / r.completed;
/** Cores busy with anything but this run: the machine's busy share less the children, this process and the servers. */
const others = (p: ProcfileRound) =>
  Math.max(0, p.run.cpu.otherCores - childSum(p.childCpuMs) / 1000 / p.run.elapsedS);

function summarize(s: WorkerSetResult) {
  const runs = s.rounds.map((p) => p.run);
  const c = {
    children: perPayment(s.rounds, (p) => childSum(p.childCpuMs)),
    gateway: perPayment(s.rounds, (p) => p.childCpuMs.gateway),
    worker: perPayment(s.rounds, (p) => p.childCpuMs.worker),
    projector: perPayment(s.rounds, (p) => p.childCpuMs.projector),
    sandbox: perPayment(s.rounds, (p) => p.childCpuMs.sandbox),
    natsServer: median(runs.map(natsMs)),
  };
  return {
    perSecond: median(runs.map((r) => r.perSecond)),
    p50: median(runs.map((r) => r.latencyMs.p50)),
    p99: median(runs.map((r) => r.latencyMs.p99)),
    cpu: c,
    productPerSecond: median(s.product.map((r) => r.perSecond)),
    productCpu: median(s.product.map((r) => r.cpu.processCpuMs / r.completed)),
    othersCores: median(s.rounds.map(others)),
    ...answerCounts(runs),
  };
}

export function workersReport(
  sets: WorkerSetResult[],
  o: { concurrency: number; durationS: number; rounds: number },
): { lines: string[]; json: object; errors: number } {
  const rows = sets.map((s) => ({ set: s, f: summarize(s) }));
  const base = rows[0];
  const lines = [
    `workers mode: the Procfile roles as child processes (gateway, N workers, projector, sandbox), ${o.concurrency} clients, ` +
      `medians of ${o.rounds} round(s) × ${o.durationS} s; ${cpus().length} cores (${cpus()[0]?.model ?? "unknown"})`,
    `  each set's phase right after a phase of the single process (this process) with the same client;`,
    `  CPU per payment of every child from /proc; ÷ first = the set's children CPU per payment ÷ the first set's`,
    "",
    "  workers partitions   payments/s   p50       p99       | CPU ms/payment: children (gateway worker projector sandbox) ÷ first | nats-server | single process beside | others",
  ];
  for (const { set, f } of rows) {
    const c = f.cpu;
    const ratio = base ? c.children / base.f.cpu.children : NaN;
    lines.push(
      `  ${String(set.workers).padStart(7)} ${String(set.partitions).padStart(10)}   ${r1(f.perSecond).toFixed(1).padStart(10)}   ${ms(f.p50).padEnd(9)} ${ms(f.p99).padEnd(9)} | ` +
        `${c.children.toFixed(3)} (${c.gateway.toFixed(3)} ${c.worker.toFixed(3)} ${c.projector.toFixed(3)} ${c.sandbox.toFixed(3)}) ÷ first ${r3(ratio).toFixed(3)} | ` +
        `${c.natsServer.toFixed(3)} | ${r1(f.productPerSecond).toFixed(1)}/s ${f.productCpu.toFixed(2)} ms | ${f.othersCores.toFixed(2)} cores`,
    );
    for (const [k, { run: r, childCpuMs: cc }] of set.rounds.entries())
      lines.push(
        `          round ${k + 1}: ${r1(r.perSecond)}/s p50 ${ms(r.latencyMs.p50)} p99 ${ms(r.latencyMs.p99)}; cores: gateway ${(cc.gateway / 1000 / r.elapsedS).toFixed(2)} ` +
          `workers ${(cc.worker / 1000 / r.elapsedS).toFixed(2)} projector ${(cc.projector / 1000 / r.elapsedS).toFixed(2)} sandbox ${(cc.sandbox / 1000 / r.elapsedS).toFixed(2)} ` +
          `this ${r.cpu.processCores.toFixed(2)}` +
          (r.cpu.natsServerCores === null ? "" : ` nats-server ${r.cpu.natsServerCores.toFixed(2)}`),
      );
    const idle = set.idleMsPerS;
    if (idle)
      lines.push(
        `          idle after the load, ms of CPU per second: workers ${idle.worker.toFixed(0)} (${(idle.worker / set.workers).toFixed(0)} each), ` +
          `gateway ${idle.gateway.toFixed(0)}, projector ${idle.projector.toFixed(0)}, sandbox ${idle.sandbox.toFixed(0)}`,
      );
    if (f.status202 > 0 || f.errors > 0)
      lines.push(`          answers: 201 ${f.status201}, 202 ${f.status202}, errors/other ${f.errors}`);
  }
  const killed = sets.find((s) => s.rebalance)?.rebalance;
  if (killed) lines.push("", ...rebalanceLines(killed));
  const errors = rows.reduce((n, r) => n + r.f.errors, 0);
  const json = {
    concurrency: o.concurrency,
    durationS: o.durationS,
    rounds: o.rounds,
    sets: rows.map(({ set, f }) => ({
      workers: set.workers,
      partitions: set.partitions,
      prefix: set.prefix,
      perSecond: r1(f.perSecond),
      latencyMs: { p50: num(f.p50), p99: num(f.p99) },
      cpuMsPerPayment: Object.fromEntries(Object.entries(f.cpu).map(([k, v]) => [k, num(v)])),
      cpuRatioToFirst: base ? num(f.cpu.children / base.f.cpu.children) : null,
      single: { perSecond: r1(f.productPerSecond), cpuMsPerPayment: num(f.productCpu) },
      othersCores: num(f.othersCores),
      idleMsPerS: set.idleMsPerS
        ? Object.fromEntries(Object.entries(set.idleMsPerS).map(([k, v]) => [k, r1(v)]))
        : null,
      status201: f.status201,
      status202: f.status202,
      errors: f.errors,
      rounds: set.rounds.map(({ run: r, childCpuMs: cc }) => ({
        perSecond: r1(r.perSecond),
        completed: r.completed,
        elapsedS: r3(r.elapsedS),
        childCpuMs: Object.fromEntries(Object.entries(cc).map(([k, v]) => [k, r1(v)])),
        othersCores: num(others({ run: r, childCpuMs: cc })),
      })),
    })),
    rebalance: killed ?? null,
  };
  return { lines, json, errors };
}

function rebalanceLines(k: Rebalance): string[] {
  const s = (v: number | null) => (v === null ? `not within ${k.limitS} s` : `${v.toFixed(2)} s`);
  const answers = Object.entries(k.inFlightAnswers)
    .map(([a, n]) => `${n} × ${a}`)
    .join(", ");
  const other = Object.entries(k.otherAnswers)
    .map(([a, n]) => `${n} × ${a}`)
    .join(", ");
  return [
    `a worker SIGKILLed under load (${k.workersBefore} → ${k.workersBefore - 1} workers, ${k.partitions} partitions; ${r1(k.rateBefore)} payments/s before):`,
    `  requests in flight at the kill: ${k.inFlightAtKill} (${answers || "none"}); the last answered ${s(k.inFlightAnsweredS)} after the kill`,
    `  a burst of one payment per partition from the kill on, every partition answered 201: ${s(k.allPartitionsS)} (${k.partitionsFlowing} of ${k.partitions}, ${k.bursts} burst(s))`,
    `  rebalance time (the later of the two): ${s(k.rebalanceS)}; the longest a client waited: ${ms(k.longestWaitMs)}`,
    `  rate back to 90 % of before: ${s(k.fullRateS)}; ${r1(k.rateAfter)} payments/s when the load stopped`,
    `  answered 202 from the kill on (the reply wait ran out: their commands were most likely with the killed worker): ${k.answered202}; all at rest ${s(k.atRestS)} after the kill` +
      (k.notAtRest > 0 ? ` (${k.notAtRest} not)` : "") +
      (other ? `; other answers: ${other}` : ""),
  ];
}
