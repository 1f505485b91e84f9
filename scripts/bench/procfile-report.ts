// The report's procfile section: the Procfile's roles as four processes (scripts/bench/procfile.ts)
// beside the single process measured in the same run — rates, latencies and CPU per payment, split
// by role, for the printed report and the BENCH_RESULT line.
import { answerCounts, median, ms, r1, r3 } from "./figures.ts";
import type { Latency, RunResult } from "./load.ts";
import { childSum, type ProcfileRound } from "./procfile.ts";

const num = (n: number) => (Number.isFinite(n) ? r3(n) : null);
const natsMsPerPayment = (r: RunResult) =>
  r.cpu.natsServerCores === null ? NaN : (r.cpu.natsServerCores * r.elapsedS * 1000) / r.completed;

function summarizeRounds(rounds: ProcfileRound[]) {
  const runs = rounds.map((p) => p.run);
  const per = (f: (p: ProcfileRound) => number) => median(rounds.map((p) => f(p) / p.run.completed));
  const latency = (k: keyof Latency) => median(runs.map((r) => r.latencyMs[k]));
  const { outcomes, status201, status202, errors } = answerCounts(runs);
  return {
    perSecond: median(runs.map((r) => r.perSecond)),
    latencyMs: {
      p50: latency("p50"),
      p95: latency("p95"),
      p99: latency("p99"),
      max: latency("max"),
      mean: latency("mean"),
    },
    // Medians of each round's per-payment figure; the three roles' medians need not add up exactly.
    cpuMsPerPayment: {
      children: per((p) => childSum(p.childCpuMs)),
      gateway: per((p) => p.childCpuMs.gateway),
      worker: per((p) => p.childCpuMs.worker),
      projector: per((p) => p.childCpuMs.projector),
      sandbox: per((p) => p.childCpuMs.sandbox),
      benchProcess: per((p) => p.run.cpu.processCpuMs),
      total: per((p) => childSum(p.childCpuMs) + p.run.cpu.processCpuMs),
      natsServer: median(runs.map(natsMsPerPayment)),
    },
    completed: runs.reduce((n, r) => n + r.completed, 0),
    status201,
    status202,
    errors,
    outcomes,
  };
}

export type ProcfileSection = { lines: string[]; json: object; errors: number; warnings: string[] };

/**
 * The procfile flow and, when the run had it, the single process (the product flow's rounds) beside
 * it: rates, latencies, and CPU per payment. The single process's CPU holds the client, the idle
 * bare flow and the platform in one figure; the procfile's is split into the children (the
 * platform alone) and this process (the client, and the idle in-process flows), whose sum is the
 * like-for-like figure.
 */
export function procfileSection(
  rounds: ProcfileRound[],
  single: RunResult[] | undefined,
  opts: { partitions: number; prefix: string },
): ProcfileSection {
  const p = summarizeRounds(rounds);
  const s = single && single.length > 0 ? single : undefined;
  const singleRate = s ? median(s.map((r) => r.perSecond)) : NaN;
  const singleCpu = s ? median(s.map((r) => r.cpu.processCpuMs / r.completed)) : NaN;
  const singleNats = s ? median(s.map(natsMsPerPayment)) : NaN;
  const singleLatency = s
    ? {
        p50: median(s.map((r) => r.latencyMs.p50)),
        p95: median(s.map((r) => r.latencyMs.p95)),
        p99: median(s.map((r) => r.latencyMs.p99)),
      }
    : undefined;
  const ratio = p.perSecond / singleRate;
  const cpuRatio = p.cpuMsPerPayment.total / singleCpu;
  const c = p.cpuMsPerPayment;
  const l = p.latencyMs;
  const lines = [
    `procfile: gateway, worker, projector and sandbox as four child processes (node --import tsx <role>/main.ts, prefix ${opts.prefix}, ${opts.partitions} partitions)`,
    `  ${r1(p.perSecond)} payments/s  p50 ${ms(l.p50)}  p95 ${ms(l.p95)}  p99 ${ms(l.p99)}  (medians of ${rounds.length})`,
    `  cpu per payment: children ${c.children.toFixed(3)} ms (gateway ${c.gateway.toFixed(3)}, worker ${c.worker.toFixed(3)}, projector ${c.projector.toFixed(3)}, sandbox ${c.sandbox.toFixed(3)})` +
      ` + this process ${c.benchProcess.toFixed(3)} (client, idle flows) = ${c.total.toFixed(3)} ms;  nats-server ${c.natsServer.toFixed(3)} ms`,
    ...rounds.map(({ run: r, childCpuMs: cc }, k) => {
      const cores = (v: number) => (v / 1000 / r.elapsedS).toFixed(2);
      return (
        `    round ${k + 1}: ${r1(r.perSecond)}/s  p50 ${ms(r.latencyMs.p50)}  p95 ${ms(r.latencyMs.p95)}  p99 ${ms(r.latencyMs.p99)}` +
        `  cores: gateway ${cores(cc.gateway)} worker ${cores(cc.worker)} projector ${cores(cc.projector)} sandbox ${cores(cc.sandbox)} this ${r.cpu.processCores.toFixed(2)}` +
        (r.cpu.natsServerCores === null ? "" : ` nats-server ${r.cpu.natsServerCores.toFixed(2)}`) +
        `  others ${Math.max(0, r.cpu.otherCores - childSum(cc) / 1000 / r.elapsedS).toFixed(2)}`
      );
    }),
    `  answers: 201 ${p.status201}  202 ${p.status202}  errors/other ${p.errors}`,
  ];
  if (s && singleLatency)
    lines.push(
      "",
      `procfile ÷ single process = ${r3(ratio)} payments/s (${r1(p.perSecond)} vs ${r1(singleRate)}/s);` +
        `  p50 ${ms(l.p50)} vs ${ms(singleLatency.p50)}, p99 ${ms(l.p99)} vs ${ms(singleLatency.p99)}`,
      `  CPU per payment procfile ÷ single = ${r3(cpuRatio)} (${c.total.toFixed(3)} vs ${singleCpu.toFixed(3)} ms, client included in both);` +
        `  nats-server ${c.natsServer.toFixed(3)} vs ${singleNats.toFixed(3)} ms`,
    );
  const warnings: string[] = [];
  if (p.status202 > 0) warnings.push(`procfile: ${p.status202} × 202 (not answered within the reply wait)`);
  for (const [k, v] of Object.entries(p.outcomes))
    if (k !== "201" && k !== "202") warnings.push(`procfile: ${v} × ${k}`);
  const json = {
    prefix: opts.prefix,
    perSecond: r1(p.perSecond),
    latencyMs: Object.fromEntries(Object.entries(p.latencyMs).map(([k, v]) => [k, num(v)])),
    cpuMsPerPayment: Object.fromEntries(Object.entries(p.cpuMsPerPayment).map(([k, v]) => [k, num(v)])),
    completed: p.completed,
    status201: p.status201,
    status202: p.status202,
    errors: p.errors,
    outcomes: p.outcomes,
    single: s
      ? {
          perSecond: r1(singleRate),
          latencyMs: Object.fromEntries(Object.entries(singleLatency ?? {}).map(([k, v]) => [k, num(v)])),
          cpuMsPerPayment: num(singleCpu),
          natsServerCpuMsPerPayment: num(singleNats),
        }
      : null,
    ratio: num(ratio),
    cpuRatio: num(cpuRatio),
    rounds: rounds.map(({ run: r, childCpuMs: cc }) => ({
      perSecond: r1(r.perSecond),
      completed: r.completed,
      elapsedS: r3(r.elapsedS),
      latencyMs: Object.fromEntries(Object.entries(r.latencyMs).map(([k, v]) => [k, num(v)])),
      childCpuMs: {
        gateway: r1(cc.gateway),
        worker: r1(cc.worker),
        projector: r1(cc.projector),
        sandbox: r1(cc.sandbox),
      },
      benchProcessCpuMs: r1(r.cpu.processCpuMs),
      natsServerCores: r.cpu.natsServerCores === null ? null : r3(r.cpu.natsServerCores),
      otherCores: r3(Math.max(0, r.cpu.otherCores - childSum(cc) / 1000 / r.elapsedS)),
      windowUs: r.windowUs,
    })),
  };
  return { lines, json, errors: p.errors, warnings };
}
