// `npm run bench`'s options, from flags or environment variables, checked: a bad value, an unknown
// flag or a flag without its value stops the run with one line (exit 2) before anything starts;
// `--help` prints USAGE (the list, with defaults) and exits 0.
import type { BenchOptions, Flow } from "./report.ts";

export class UsageError extends Error {}

/** `npm run bench -- --help`. */
export const USAGE = `Usage: npm run bench -- [options]

Options (flag, environment variable, default):
  --concurrency N | --clients N  BENCH_CONCURRENCY 32   closed-loop clients (also the baseline's publishers)
  --duration S                   BENCH_DURATION 15      measured seconds per phase
  --warmup S                     BENCH_WARMUP 2         warm-up seconds before each phase (the first: at least 5)
  --rounds N                     BENCH_ROUNDS 2         bare+product pairs; figures are medians over rounds
  --open-loop RATE               BENCH_OPEN_LOOP        payments/s offered instead of a closed loop
  --max-outstanding N            BENCH_MAX_OUTSTANDING 256  open loop: arrivals beyond this many waiting are dropped
  --only bare|product|procfile   BENCH_ONLY             one flow only: no routing micro-bench, no baseline
  --procfile                     BENCH_PROCFILE=1       also the Procfile roles as child processes
  --workers N[,N...]             BENCH_WORKERS          workers mode: the Procfile roles with N worker processes, each N
                                                        in turn after a product phase, then 1 worker on 1 partition;
                                                        per run: rate, p50/p99, CPU per payment per role, ÷ the first;
                                                        with N >= 2 one worker SIGKILLed under load and the time until
                                                        every partition flows again (scripts/bench/workers.ts)
  --only settlement                                     the settlement section alone (scripts/bench/settlement.ts)
  --settlement-lines N           BENCH_SETTLEMENT_LINES 1000000  report lines (= payments); 0: no settlement section
  --settlement-rounds N          BENCH_SETTLEMENT_ROUNDS 2       bare parse + ingest pairs
  --settlement-cpu-prof          BENCH_SETTLEMENT_CPU_PROF=1     profile the last ingest, print its top costs
  --only search                                         the search section alone (scripts/bench/search.ts)
  --search-payments N            BENCH_SEARCH_PAYMENTS 0 (--only search: 1000000)  payments in the projection; 0: no search section
  --search-queries N             BENCH_SEARCH_QUERIES 1000  searches timed (each: first page, then the second)
  --tracing                      BENCH_TRACING=1        the product with tracing on (scripts/bench/tracing.ts)
  --no-endpoint                  BENCH_ENDPOINT=0       the product without its subscribed webhook endpoint
                                                        (by default one endpoint of the bench merchant, every
                                                        event type, to a receiver in a process of its own)
  --embedded                     BENCH_EMBEDDED=1       the product as a newcomer's npm start runs it without a
                                                        PostgreSQL server: PGlite in this process (one connection),
                                                        sandbox persistence on (scripts/bench/product.ts)
  --phases N                     BENCH_PHASES 0         phase mode: the product alone (a bare phase before and after
                                                        for reference), one continuous closed loop of N phases;
                                                        per phase: rate, p50, CPU per payment, RSS, heap used;
                                                        then last ÷ first, followers' lag, idle CPU, memory per
                                                        component (scripts/bench/phases.ts); no sections after it
  --phase-payments K             BENCH_PHASE_PAYMENTS 10000  payments per phase
  --heap-snapshots               BENCH_HEAP_SNAPSHOTS=1 phase mode: heap snapshot summaries after the first and
                                                        last phase (the load pauses for the first; writing it
                                                        raises the RSS: compare RSS from a run without it)
  --only webhooks                                       the webhooks section alone (scripts/bench/webhooks.ts): payments/s
                                                        with no endpoint vs one endpoint (--concurrency, --duration,
                                                        --warmup, --rounds apply), deliveries/s, delivery lag p50/p99
  --only decompose                                      the bare flow, the product, the product without its endpoint
                                                        and with its followers off, each phase a bench process of its
                                                        own, alternating for --rounds rounds (--concurrency, --duration,
                                                        --warmup apply): the payment path ÷ bare, the followers' and
                                                        the endpoint's CPU per payment as multiples of the bare flow's
                                                        (scripts/bench/decompose.ts)
  --help, -h                                            this list

Exit 0 when it ran and cleaned up; 1 when it failed, or when any request or publish errored;
2 on a bad option.
`;

/** The flags that take a value (`--name value` or `--name=value`), and the bare switches. */
const VALUED = new Set([
  "concurrency",
  "clients",
  "duration",
  "warmup",
  "rounds",
  "open-loop",
  "max-outstanding",
  "only",
  "settlement-lines",
  "settlement-rounds",
  "search-payments",
  "search-queries",
  "phases",
  "phase-payments",
  "workers",
]);
const SWITCHES = new Set([
  "procfile",
  "tracing",
  "settlement-cpu-prof",
  "help",
  "no-endpoint",
  "embedded",
  "heap-snapshots",
]);

/** What the options are read from: the arguments after the script's name, and the environment. */
export type CommandLine = { argv: readonly string[]; env: Readonly<Record<string, string | undefined>> };
const thisProcess = (): CommandLine => ({ argv: process.argv.slice(2), env: process.env });

/**
 * Whether the command line asks for the help (and nothing is run); throws UsageError for an
 * unknown flag, a stray argument, a valued flag without its value or a switch given one.
 */
export function helpAsked(argv: readonly string[] = thisProcess().argv): boolean {
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-h" || a === "--help") {
      help = true;
      continue;
    }
    if (!a.startsWith("--"))
      throw new UsageError(
        `unexpected argument ${JSON.stringify(a)} (npm run bench -- --help lists the options)`,
      );
    const eq = a.indexOf("=");
    const name = a.slice(2, eq < 0 ? undefined : eq);
    if (SWITCHES.has(name)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
    } else if (VALUED.has(name)) {
      if (eq < 0) {
        const value = argv[i + 1];
        if (value === undefined || value.startsWith("--")) throw new UsageError(`--${name} needs a value`);
        i++;
      }
    } else throw new UsageError(`unknown option --${name} (npm run bench -- --help lists the options)`);
  }
  return help;
}

/** The raw text of the first of `names` given as `--name value` or `--name=value`, else `envVar`. */
function arg(cl: CommandLine, names: string[], envVar: string): string | undefined {
  const { argv } = cl;
  for (const name of names) {
    const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
    if (i >= 0) return argv[i]!.includes("=") ? argv[i]!.slice(argv[i]!.indexOf("=") + 1) : argv[i + 1];
  }
  return cl.env[envVar];
}

function option(
  cl: CommandLine,
  names: string[],
  envVar: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = arg(cl, names, envVar);
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new UsageError(
      `--${names[0]} (${envVar}) must be a number ${min}-${max}, got ${JSON.stringify(raw)}`,
    );
  return n;
}

/** Worker processes per run of the workers mode: a comma-separated list of counts, each 1-16. */
export const MAX_WORKERS = 16;

function workerCounts(cl: CommandLine): number[] | undefined {
  const raw = arg(cl, ["workers"], "BENCH_WORKERS");
  if (raw === undefined || raw === "") return undefined;
  const counts = raw.split(",").map((part) => part.trim());
  if (!counts.every((c) => /^\d+$/.test(c) && Number(c) >= 1 && Number(c) <= MAX_WORKERS))
    throw new UsageError(
      `--workers (BENCH_WORKERS) must be worker counts 1-${MAX_WORKERS}, comma-separated (e.g. 1,2,3), got ${JSON.stringify(raw)}`,
    );
  const n = counts.map(Number);
  if (new Set(n).size !== n.length)
    throw new UsageError(`--workers (BENCH_WORKERS) lists a count twice: ${JSON.stringify(raw)}`);
  return n;
}

/** A bare switch given on the command line, or its environment variable set to 1 or true. */
const switchOn = (cl: CommandLine, name: string, envVar?: string) =>
  cl.argv.includes(`--${name}`) || (envVar !== undefined && ["1", "true"].includes(cl.env[envVar] ?? ""));

const FLOWS: readonly Flow[] = ["bare", "product", "procfile"];
const isFlow = (s: string | undefined): s is Flow => FLOWS.some((f) => f === s);

/** The sections `--only` may name: that section alone (no flow, no server of the flows). */
const SECTIONS = ["settlement", "search", "webhooks", "decompose"] as const;
export type Section = (typeof SECTIONS)[number];

/** `--only settlement`, `search`, `webhooks` or `decompose`: that section alone. */
export function sectionOnly(cl: CommandLine = thisProcess()): Section | undefined {
  const only = arg(cl, ["only"], "BENCH_ONLY");
  return SECTIONS.find((s) => s === only);
}

export function options(cl: CommandLine = thisProcess()): BenchOptions {
  const only = arg(cl, ["only"], "BENCH_ONLY");
  if (only !== undefined && only !== "" && !SECTIONS.some((s) => s === only) && !isFlow(only))
    throw new UsageError(
      `--only (BENCH_ONLY) must be bare, product, procfile, settlement, search, webhooks or decompose, got ${JSON.stringify(only)}`,
    );
  // A bare switch, so not arg(): `--procfile --duration 6` must not read "--duration" as its value.
  const procfileEnv = cl.env.BENCH_PROCFILE ?? "";
  if (!["", "0", "1", "true", "false"].includes(procfileEnv))
    throw new UsageError(`BENCH_PROCFILE must be 1 or 0, got ${JSON.stringify(procfileEnv)}`);
  const procfile =
    cl.argv.includes("--procfile") || procfileEnv === "1" || procfileEnv === "true" || only === "procfile";
  const openLoopRate = option(cl, ["open-loop"], "BENCH_OPEN_LOOP", 0, 0, 100_000);
  const phases = Math.round(option(cl, ["phases"], "BENCH_PHASES", 0, 0, 1000));
  if (phases > 0 && (openLoopRate > 0 || procfile || (isFlow(only) && only !== "product")))
    throw new UsageError(
      "--phases runs the product in a closed loop: not with --open-loop, --procfile or --only other than product",
    );
  if (
    only === "decompose" &&
    (openLoopRate > 0 ||
      procfile ||
      phases > 0 ||
      switchOn(cl, "embedded", "BENCH_EMBEDDED") ||
      switchOn(cl, "tracing", "BENCH_TRACING"))
  )
    throw new UsageError(
      "--only decompose runs four closed-loop flows of its own: not with --open-loop, --procfile, --phases, --embedded or --tracing",
    );
  const workers = workerCounts(cl);
  if (workers && (openLoopRate > 0 || procfile || phases > 0 || (only !== undefined && only !== "")))
    throw new UsageError(
      "--workers runs its own closed-loop rounds: not with --open-loop, --procfile, --phases or --only",
    );
  return {
    concurrency: Math.round(option(cl, ["concurrency", "clients"], "BENCH_CONCURRENCY", 32, 1, 4096)),
    durationS: option(cl, ["duration"], "BENCH_DURATION", 15, 1, 3600),
    warmupS: option(cl, ["warmup"], "BENCH_WARMUP", 2, 0, 600),
    rounds: Math.round(option(cl, ["rounds"], "BENCH_ROUNDS", 2, 1, 100)),
    only: isFlow(only) ? only : undefined,
    procfile,
    openLoopRate: openLoopRate > 0 ? openLoopRate : undefined,
    maxOutstanding: Math.round(option(cl, ["max-outstanding"], "BENCH_MAX_OUTSTANDING", 256, 1, 65_536)),
    settlementLines: Math.round(
      option(cl, ["settlement-lines"], "BENCH_SETTLEMENT_LINES", 1_000_000, 0, 10_000_000),
    ),
    settlementRounds: Math.round(option(cl, ["settlement-rounds"], "BENCH_SETTLEMENT_ROUNDS", 2, 1, 20)),
    // A million rows take a minute to seed and the rebuild another: in a full run only when asked.
    searchPayments: Math.round(
      option(
        cl,
        ["search-payments"],
        "BENCH_SEARCH_PAYMENTS",
        only === "search" ? 1_000_000 : 0,
        0,
        10_000_000,
      ),
    ),
    searchQueries: Math.round(option(cl, ["search-queries"], "BENCH_SEARCH_QUERIES", 1_000, 7, 100_000)),
    tracing: switchOn(cl, "tracing", "BENCH_TRACING"),
    settlementCpuProf: cl.argv.includes("--settlement-cpu-prof") || cl.env.BENCH_SETTLEMENT_CPU_PROF === "1",
    endpoint: !switchOn(cl, "no-endpoint") && !["0", "false"].includes(cl.env.BENCH_ENDPOINT ?? ""),
    embedded: switchOn(cl, "embedded", "BENCH_EMBEDDED"),
    phases,
    phasePayments: Math.round(option(cl, ["phase-payments"], "BENCH_PHASE_PAYMENTS", 10_000, 1, 10_000_000)),
    heapSnapshots: switchOn(cl, "heap-snapshots", "BENCH_HEAP_SNAPSHOTS"),
    workers,
  };
}
