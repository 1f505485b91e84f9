// `npm run bench`'s options, from flags or environment variables, checked: a bad value stops the
// run with one line (exit 2) before anything starts. The list, with defaults, is in bench.ts's header.
import type { BenchOptions, Flow } from "./report.ts";

export class UsageError extends Error {}

/** The raw text of the first of `names` given as `--name value` or `--name=value`, else `envVar`. */
function arg(names: string[], envVar: string): string | undefined {
  const argv = process.argv.slice(2);
  for (const name of names) {
    const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
    if (i >= 0) return argv[i]!.includes("=") ? argv[i]!.slice(argv[i]!.indexOf("=") + 1) : argv[i + 1];
  }
  return process.env[envVar];
}

function option(names: string[], envVar: string, fallback: number, min: number, max: number): number {
  const raw = arg(names, envVar);
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new UsageError(
      `--${names[0]} (${envVar}) must be a number ${min}-${max}, got ${JSON.stringify(raw)}`,
    );
  return n;
}

const FLOWS: readonly Flow[] = ["bare", "product", "procfile"];
const isFlow = (s: string | undefined): s is Flow => FLOWS.some((f) => f === s);

/** `--only settlement`, `search` or `webhooks`: that section alone (no flow, no server of the flows). */
export function sectionOnly(): "settlement" | "search" | "webhooks" | undefined {
  const only = arg(["only"], "BENCH_ONLY");
  return only === "settlement" || only === "search" || only === "webhooks" ? only : undefined;
}

export function options(): BenchOptions {
  const only = arg(["only"], "BENCH_ONLY");
  if (
    only !== undefined &&
    only !== "" &&
    only !== "settlement" &&
    only !== "search" &&
    only !== "webhooks" &&
    !isFlow(only)
  )
    throw new UsageError(
      `--only (BENCH_ONLY) must be bare, product, procfile, settlement, search or webhooks, got ${JSON.stringify(only)}`,
    );
  // A bare switch, so not arg(): `--procfile --duration 6` must not read "--duration" as its value.
  const procfileEnv = process.env.BENCH_PROCFILE ?? "";
  if (!["", "0", "1", "true", "false"].includes(procfileEnv))
    throw new UsageError(`BENCH_PROCFILE must be 1 or 0, got ${JSON.stringify(procfileEnv)}`);
  const procfile =
    process.argv.slice(2).includes("--procfile") ||
    procfileEnv === "1" ||
    procfileEnv === "true" ||
    only === "procfile";
  const openLoopRate = option(["open-loop"], "BENCH_OPEN_LOOP", 0, 0, 100_000);
  return {
    concurrency: Math.round(option(["concurrency", "clients"], "BENCH_CONCURRENCY", 32, 1, 4096)),
    durationS: option(["duration"], "BENCH_DURATION", 15, 1, 3600),
    warmupS: option(["warmup"], "BENCH_WARMUP", 2, 0, 600),
    rounds: Math.round(option(["rounds"], "BENCH_ROUNDS", 2, 1, 100)),
    only: isFlow(only) ? only : undefined,
    procfile,
    openLoopRate: openLoopRate > 0 ? openLoopRate : undefined,
    maxOutstanding: Math.round(option(["max-outstanding"], "BENCH_MAX_OUTSTANDING", 256, 1, 65_536)),
    settlementLines: Math.round(
      option(["settlement-lines"], "BENCH_SETTLEMENT_LINES", 1_000_000, 0, 10_000_000),
    ),
    settlementRounds: Math.round(option(["settlement-rounds"], "BENCH_SETTLEMENT_ROUNDS", 2, 1, 20)),
    // A million rows take a minute to seed and the rebuild another: in a full run only when asked.
    searchPayments: Math.round(
      option(["search-payments"], "BENCH_SEARCH_PAYMENTS", only === "search" ? 1_000_000 : 0, 0, 10_000_000),
    ),
    searchQueries: Math.round(option(["search-queries"], "BENCH_SEARCH_QUERIES", 1_000, 7, 100_000)),
    tracing:
      process.argv.slice(2).includes("--tracing") || ["1", "true"].includes(process.env.BENCH_TRACING ?? ""),
    settlementCpuProf:
      process.argv.slice(2).includes("--settlement-cpu-prof") ||
      process.env.BENCH_SETTLEMENT_CPU_PROF === "1",
  };
}
