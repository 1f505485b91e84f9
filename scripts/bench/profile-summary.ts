// Where a payment's CPU goes, from a V8 CPU profile of a bench run: self time grouped by npm package
// (node_modules/<pkg>), project file, Node built-in module or V8 itself, as ms per payment, plus the
// top functions — the figures behind the README's CPU budget table. With `--bench <file>` (the
// bench's stdout, holding its BENCH_RESULT line) only the samples inside the measured windows
// count, divided by the payments completed in them, so start-up, warm-ups and clean-up stay out;
// this works because a run's windows are on process.hrtime's clock, which is the monotonic clock V8
// stamps its samples with. Without it, `--payments N` divides the whole profile.
//
//   node --cpu-prof --cpu-prof-dir=/tmp/switchyard-prof --import tsx scripts/bench.ts --only product --rounds 1 | tee /tmp/switchyard-prof/bench.out
//   npx tsx scripts/bench/profile-summary.ts /tmp/switchyard-prof/<file>.cpuprofile --bench /tmp/switchyard-prof/bench.out [--top 25] [--by stage]
// `--by stage` bills each sample to the innermost project module on its stack (the README's budget
// table): what our code was doing, including the library calls it made. `--against <other profile>
// --against-bench <its bench stdout>` puts a second run's groups beside the first's, with the ratio.
//
// Node writes one profile per thread: the large one is the main thread; the small one is tsx's
// loader thread, idle. Samples measure wall time on the main thread while it was not idle, which on
// a contended machine includes time descheduled; with --bench the shares are scaled to the run's
// process.cpuUsage() per payment (which also counts GC helper and libuv threads).
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { benchResultOf } from "./report.ts";

type CallFrame = { functionName: string; url: string; lineNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame; children?: number[] };
type CpuProfile = {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
};
type Window = [number, number];

/** The group a frame's self time is billed to. */
export function groupOf(frame: CallFrame, root: string): string {
  const { url, functionName } = frame;
  if (url === "") {
    // V8's pseudo-frames, and builtins (JSON.parse, regexps…) that have no script.
    return /^\((garbage collector|program|idle|root)\)$/.test(functionName) ? functionName : "(V8 builtins)";
  }
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) {
    const [a, b] = url.slice(nm + "/node_modules/".length).split("/");
    return a?.startsWith("@") ? `${a}/${b}` : (a ?? url);
  }
  if (url.startsWith("node:")) return url;
  return url.startsWith(root) ? url.slice(root.length) : url;
}

/**
 * The stage a sample is billed to in the budget view: the innermost frame of the project on its
 * stack (what our code was doing, library calls included), by folder; a stack with none of ours
 * (event-loop callbacks inside a library, GC) keeps its own group.
 */
export function stageOf(path: string): string | undefined {
  if (path.startsWith("gateway/")) return "gateway: HTTP handling, auth, validation, fingerprints, sealing";
  if (path.startsWith("actors/psp/")) return "worker: PSP client (adapters, health, undici)";
  if (path.startsWith("actors/policy/")) return "worker: routing decision";
  if (path.startsWith("actors/webhooks/")) return "worker: webhook dispatcher and sender";
  if (
    path.startsWith("actors/projections/") ||
    path.startsWith("actors/ledger/") ||
    path.startsWith("actors/settlement/") ||
    path === "actors/readmodels.ts" ||
    path === "actors/expiry.ts" ||
    path.startsWith("streams/db/")
  )
    return "worker: read models in PostgreSQL (projections, ledger, sweeps)";
  if (path.startsWith("actors/")) return "worker: actor, decider, journal, command intake";
  if (path.startsWith("streams/")) return "streams: command bus, consumer, event store (NATS calls)";
  if (path.startsWith("config/")) return "config: logging, metrics, card seal";
  if (path.startsWith("scripts/sandbox")) return "PSP sandbox (the simulated PSP, in this process)";
  if (path.startsWith("scripts/bench")) return "bench: load generator client";
  return undefined;
}

export function summarize(
  profile: CpuProfile,
  windows: Window[] | undefined,
  root: string,
  by: "self" | "stage" = "self",
) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageCache = new Map<number, string | undefined>();
  const stageOfNode = (id: number): string | undefined => {
    if (stageCache.has(id)) return stageCache.get(id);
    const frame = byId.get(id);
    const own = frame ? stageOf(groupOf(frame, root)) : undefined;
    const p = parent.get(id);
    const stage = own ?? (p === undefined ? undefined : stageOfNode(p));
    stageCache.set(id, stage);
    return stage;
  };
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  let t = profile.startTime;
  let idle = 0;
  let counted = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    // A sample stands for the time until the next one (DevTools' convention).
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (windows && !windows.some(([a, b]) => t >= a && t < b)) continue;
    const frame = byId.get(profile.samples[i]!);
    if (!frame) continue;
    const self = groupOf(frame, root);
    const group = by === "stage" ? (stageOfNode(profile.samples[i]!) ?? `outside our code: ${self}`) : self;
    if (self === "(idle)") {
      idle += us;
      continue;
    }
    counted += us;
    groups.set(group, (groups.get(group) ?? 0) + us);
    const fn = `${frame.functionName || "(anonymous)"}  ${group}:${frame.lineNumber + 1}`;
    functions.set(fn, (functions.get(fn) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { groups: sorted(groups), functions: sorted(functions), busyUs: counted, idleUs: idle };
}

/** The measured windows and completed payments of the one flow a bench run measured. */
function benchWindows(
  file: string,
  flow: string | undefined,
): { windows: Window[]; payments: number; cpuMs: number } {
  const found = benchResultOf(readFileSync(file, "utf8"));
  if (!found) throw new Error(`${file}: no BENCH_RESULT line`);
  type Rounds = {
    rounds: { windowUs: Window; completed: number; cpu: { processCpuMs: number } }[];
  } | null;
  const result = found as { bare: Rounds; product: Rounds };
  const present = (["bare", "product"] as const).filter((f) => result[f] !== null);
  const chosen = flow ?? (present.length === 1 ? present[0] : undefined);
  if (chosen !== "bare" && chosen !== "product")
    throw new Error(
      "the run measured both flows: say which with --flow bare|product (or profile with --only)",
    );
  const rounds = result[chosen]?.rounds ?? [];
  return {
    windows: rounds.map((r) => r.windowUs),
    payments: rounds.reduce((n, r) => n + r.completed, 0),
    cpuMs: rounds.reduce((n, r) => n + r.cpu.processCpuMs, 0),
  };
}

function arg(name: string): string | undefined {
  const argv = process.argv.slice(2);
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

type Measured = {
  file: string;
  windows: Window[] | undefined;
  payments: number;
  cpuMsPerPayment: number | undefined;
  summary: ReturnType<typeof summarize>;
  /** Sampled µs → ms a payment, scaled to the run's cpuUsage when the bench's output says it. */
  perPayment: (us: number) => number;
};

/** One profile read as main() prints it: its measured windows, payments and the scale to CPU. */
function measure(
  file: string,
  benchFile: string | undefined,
  payments: number | undefined,
  by: "self" | "stage",
): Measured {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const fromBench = benchFile === undefined ? undefined : benchWindows(benchFile, arg("flow"));
  const n = fromBench?.payments ?? payments ?? 0;
  if (!(n > 0)) throw new Error("no payments to divide by");
  const windows = fromBench?.windows;
  if (windows?.some(([a, b]) => a < profile.startTime || b > profile.endTime))
    throw new Error(`${file}: the measured windows are not inside this profile: a profile of another run?`);
  const summary = summarize(profile, windows, pathToFileURL(process.cwd()).href + "/", by);
  // Sampled time is wall time on a thread that was not idle: on a busy machine it includes being
  // descheduled (and the profiler's own cost), so it overstates CPU. With the bench's cpuUsage for
  // the same windows, shares are scaled to that: the ms/payment column then adds up to it.
  const scale = fromBench ? fromBench.cpuMs / n / (summary.busyUs / 1000 / n) : 1;
  return {
    file,
    windows,
    payments: n,
    cpuMsPerPayment: fromBench ? fromBench.cpuMs / n : undefined,
    summary,
    perPayment: (us) => (us / 1000 / n) * scale,
  };
}

/**
 * `--against <other.cpuprofile> --against-bench <its bench stdout>`: the same groups side by side, ms
 * a payment in each and their ratio — one client against 32, say (README, sixteenth round): a stage
 * that grows far more than the rest at one client is a fixed cost per round trip that load hides.
 */
function compare(a: Measured, b: Measured, top: number): string[] {
  const bOf = new Map(b.summary.groups);
  const cell = (x: number) => x.toFixed(3).padStart(9);
  const ratio = (x: number, y: number) => (y > 0 ? `× ${(x / y).toFixed(1)}` : "—").padStart(8);
  const totalA = a.cpuMsPerPayment ?? a.perPayment(a.summary.busyUs);
  const totalB = b.cpuMsPerPayment ?? b.perPayment(b.summary.busyUs);
  return [
    `A ${a.file}: ${a.payments} payments;  B ${b.file}: ${b.payments} payments`,
    "",
    `${"ms/payment".padEnd(52)}        A         B    A ÷ B`,
    `  ${"the whole (process CPU with --bench)".padEnd(50)}${cell(totalA)} ${cell(totalB)} ${ratio(totalA, totalB)}`,
    ...a.summary.groups.slice(0, top).map(([g, us]) => {
      const x = a.perPayment(us);
      const y = b.perPayment(bOf.get(g) ?? 0);
      return `  ${g.slice(0, 50).padEnd(50)}${cell(x)} ${cell(y)} ${ratio(x, y)}`;
    }),
  ];
}

function main(): void {
  const file = process.argv.slice(2).find((a) => a.endsWith(".cpuprofile") && a !== arg("against"));
  const benchFile = arg("bench");
  if (!file || (benchFile === undefined && arg("payments") === undefined)) {
    process.stderr.write(
      "usage: profile-summary.ts <file.cpuprofile> (--bench <bench stdout> [--flow bare|product] | --payments N) [--top N] [--by self|stage]\n" +
        "         [--against <other.cpuprofile> (--against-bench <its bench stdout> | --against-payments N)]\n",
    );
    process.exit(2);
  }
  const by = arg("by") === "stage" ? "stage" : "self";
  const top = Number(arg("top") ?? 25);
  const payments = arg("payments") === undefined ? undefined : Number(arg("payments"));
  const m = measure(file, benchFile, payments, by);
  const against = arg("against");
  if (against !== undefined) {
    const otherPayments = arg("against-payments") === undefined ? undefined : Number(arg("against-payments"));
    const o = measure(against, arg("against-bench"), otherPayments, by);
    process.stdout.write(`${compare(m, o, top).join("\n")}\n`);
    return;
  }
  const s = m.summary;
  const perPayment = (us: number) => m.perPayment(us).toFixed(3).padStart(8);
  const share = (us: number) => `${((us / s.busyUs) * 100).toFixed(1).padStart(5)} %`;
  const out = [
    `${file}: ${m.windows ? `${m.windows.length} measured window(s)` : "whole profile"}, ${m.payments} payments`,
    `main thread sampled busy ${(s.busyUs / 1000).toFixed(0)} ms = ${(s.busyUs / 1000 / m.payments).toFixed(3)} ms/payment (idle ${(s.idleUs / 1000).toFixed(0)} ms)` +
      (m.cpuMsPerPayment !== undefined
        ? `; process CPU (cpuUsage) ${m.cpuMsPerPayment.toFixed(3)} ms/payment: ms/payment below are shares of that`
        : "; ms/payment below are sampled time"),
    "",
    by === "stage"
      ? "time by stage (innermost project module on the stack)   ms/payment   share"
      : "self time by package / file      ms/payment   share",
    ...s.groups.slice(0, top).map(([g, us]) => `  ${g.padEnd(44)}${perPayment(us)}  ${share(us)}`),
    "",
    "top functions (self)",
    ...s.functions.slice(0, top).map(([f, us]) => `  ${perPayment(us)}  ${share(us)}  ${f}`),
  ];
  process.stdout.write(`${out.join("\n")}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
