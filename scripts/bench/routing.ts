// The router's own speed, apart from the platform: decisions per second and per-decision latency on
// a realistic 200-rule policy whose broad rules come last, so most payments scan most of the
// rules before one matches (the worst realistic shape: specific rules first, general ones last).
// Pure CPU, no services. Each decision is timed alone with process.hrtime.bigint after a warm-up;
// several runs, medians reported. `npx tsx scripts/bench/routing.ts [--rules N] [--decisions N]`
// prints the result as JSON.
import { pathToFileURL } from "node:url";
import type { PaymentFacts, PspHealth, RoutingInput } from "../../actors/policy/core/decision.ts";
import { decideRoute } from "../../actors/policy/core/router.ts";
import {
  FeePolicy,
  RetryPolicy,
  RoutingPolicy,
  type PspCapabilities,
  type RoutingOutcome,
} from "../../actors/policy/core/schemas.ts";

export type RoutingBenchOptions = { rules?: number; decisions?: number; runs?: number; warmup?: number };

export type RoutingBenchResult = {
  rules: number;
  /** Decisions timed per run. */
  decisions: number;
  runs: number;
  /** Medians over the runs. */
  perSecond: number;
  p50Us: number;
  p99Us: number;
  meanUs: number;
  /** Mean 1-based position of the matched rule in the policy (every rule when none matched): how deep a plain first-match scan would go. The router's currency index skips the rules for other currencies. */
  meanMatchPosition: number;
  /** Each run's figures, for the spread. */
  perRun: { perSecond: number; p50Us: number; p99Us: number; meanUs: number }[];
};

// A small deterministic generator (LCG), so every run benches the same policy and payments.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const pickSome = <T>(r: () => number, xs: readonly T[], n: number): T[] => [
  ...new Set(Array.from({ length: n }, () => pick(r, xs))),
];

const PSPS = ["acme", "bolt", "cobalt", "dart", "ember"] as const;
const CURRENCIES = ["EUR", "USD", "GBP", "SEK", "DKK", "NOK", "PLN", "CHF"] as const;
const BRANDS = ["visa", "mastercard", "amex"] as const;
const COUNTRIES = ["NL", "DE", "FR", "BE", "ES", "IT", "SE", "DK", "GB", "US", "CA", "JP"] as const;

const CAPS: ReadonlyMap<string, PspCapabilities> = new Map<string, PspCapabilities>([
  ["acme", { currencies: CURRENCIES, brands: BRANDS, threeDs: true, partialCapture: true, refunds: true }],
  ["bolt", { currencies: ["EUR", "USD", "GBP", "DKK"], brands: ["visa", "mastercard"], threeDs: true, partialCapture: true, refunds: true }],
  ["cobalt", { currencies: ["EUR", "SEK", "NOK", "DKK"], brands: ["visa", "mastercard"], threeDs: true, partialCapture: false, refunds: true }],
  ["dart", { currencies: ["EUR", "USD", "GBP", "CHF"], brands: BRANDS, threeDs: true, partialCapture: true, refunds: true }],
  ["ember", { currencies: ["EUR", "PLN"], brands: ["visa", "mastercard"], threeDs: false, partialCapture: true, refunds: true }],
]); // prettier-ignore

function outcome(r: () => number): RoutingOutcome {
  const psps = pickSome(r, PSPS, 3);
  switch (Math.floor(r() * 4)) {
    case 0:
      return { type: "priority", psps };
    case 1: {
      const w = Math.floor(r() * 100);
      return {
        type: "weighted",
        split: [
          { psp: psps[0]!, weight: w },
          { psp: psps[1] ?? "acme", weight: 100 - w },
        ],
      };
    }
    case 2:
      return { type: "least_cost", psps };
    default:
      return { type: "best_success_rate", psps, exploration: 0.05, min_samples: 20 };
  }
}

/** A policy of `n` rules: n − 20 narrow ones (merchants, metadata, BIN countries with amount bands), then 20 broad ones, the last a catch-all. */
export function benchPolicy(n: number): RoutingPolicy {
  const r = rng(42);
  const rules: unknown[] = [];
  const narrow = Math.max(0, n - 20);
  for (let i = 0; i < n; i++) {
    let when: Record<string, unknown>;
    if (i === n - 1) when = {};
    else if (i >= narrow) {
      when = { currencies: pickSome(r, CURRENCIES, 2), brands: pickSome(r, BRANDS, 2), regions: pick(r, [["intra_eea", "domestic"], ["international"]]) };
    } else
      switch (i % 4) {
        case 0: // a handful of big merchants with their own routing; most payments are from others
          when = { merchants: [`m_${1000 + i}`, `m_${2000 + i}`], currencies: pickSome(r, CURRENCIES, 2) };
          break;
        case 1:
          when = { metadata: { campaign: `c${i}` }, brands: pickSome(r, BRANDS, 2) };
          break;
        case 2: {
          const min = Math.floor(r() * 1000) * 1000;
          when = { bin_countries: pickSome(r, COUNTRIES, 3), amount: { [pick(r, CURRENCIES)]: { min, max: min + 5000 } }, capture: "manual" };
          break;
        }
        default:
          when = { currencies: [pick(r, CURRENCIES)], brands: ["amex"], regions: ["international"], metadata: { channel: "moto" } };
      } // prettier-ignore
    rules.push({ id: `rule-${i}`, when, then: outcome(r) });
  }
  return RoutingPolicy.parse({
    kind: "routing",
    home_country: "NL",
    requires: ["refunds"],
    rules,
    fallback: ["acme", "bolt"],
  });
}

const FEES = FeePolicy.parse({
  kind: "fees",
  psps: Object.fromEntries(
    PSPS.map((psp, k) => [
      psp,
      [
        {
          schemes: ["visa", "mastercard"],
          regions: ["domestic", "intra_eea"],
          fixed: Object.fromEntries(CURRENCIES.map((c) => [c, 20 + k])),
          percent: `1.${2 + k}`,
        },
        {
          fixed: Object.fromEntries(CURRENCIES.map((c) => [c, 25 + k])),
          percent: `2.${5 + k}`,
          minimum: { EUR: 30 },
        },
      ],
    ]),
  ),
});
const RETRIES = RetryPolicy.parse({ kind: "retries" });

function paymentFacts(count: number, seed: number): PaymentFacts[] {
  const r = rng(seed);
  return Array.from({ length: count }, (_, i): PaymentFacts => ({
    paymentId: `pay_${seed}_${i}_${Math.floor(r() * 1e9).toString(36)}`,
    merchantId: r() < 0.02 ? `m_${1000 + Math.floor(r() * 180)}` : `m_${Math.floor(r() * 500)}`,
    amount: 100 + Math.floor(r() * r() * 500_000),
    currency: r() < 0.6 ? "EUR" : pick(r, CURRENCIES),
    brand: r() < 0.9 ? pick(r, ["visa", "mastercard"]) : "amex",
    binCountry: r() < 0.05 ? null : pick(r, COUNTRIES),
    capture: r() < 0.3 ? "manual" : "automatic",
    metadata: r() < 0.1 ? { campaign: `c${Math.floor(r() * 400)}` } : {},
  }));
}

function health(): Map<string, PspHealth> {
  return new Map<string, PspHealth>([
    ["acme", { circuit: "closed", forcedOut: false, successRate: 0.93, samples: 50 }],
    ["bolt", { circuit: "closed", forcedOut: false, successRate: 0.95, samples: 50 }],
    ["cobalt", { circuit: "half_open", forcedOut: false, successRate: 0.7, samples: 12 }],
    ["dart", { circuit: "closed", forcedOut: false, successRate: 0.9, samples: 8 }],
    ["ember", { circuit: "open", forcedOut: false, successRate: 0.2, samples: 50 }],
  ]);
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const quantile = (sorted: Float64Array, q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const round2 = (x: number) => Math.round(x * 100) / 100;

export async function benchRouting(opts: RoutingBenchOptions = {}): Promise<RoutingBenchResult> {
  const ruleCount = opts.rules ?? 200;
  const decisions = opts.decisions ?? 20_000;
  const runs = opts.runs ?? 5;
  const warmup = opts.warmup ?? 20_000;
  const policy = benchPolicy(ruleCount);
  const base: Omit<RoutingInput, "facts"> = {
    routing: { version: 1, policy },
    fees: { version: 1, policy: FEES },
    retries: { version: 1, policy: RETRIES },
    capabilities: CAPS,
    health: health(),
  };

  let sink = 0;
  for (const facts of paymentFacts(warmup, 1)) sink += decideRoute({ ...base, facts }).order.length;

  const perRun: RoutingBenchResult["perRun"] = [];
  let scanned = 0;
  for (let run = 0; run < runs; run++) {
    const inputs: RoutingInput[] = paymentFacts(decisions, 100 + run).map((facts) => ({ ...base, facts }));
    const times = new Float64Array(decisions);
    for (let i = 0; i < decisions; i++) {
      const t0 = process.hrtime.bigint();
      const d = decideRoute(inputs[i]!);
      times[i] = Number(process.hrtime.bigint() - t0) / 1000;
      sink += d.order.length;
      scanned += d.ruleIndex === null ? ruleCount : d.ruleIndex + 1;
    }
    const total = times.reduce((a, b) => a + b, 0);
    times.sort();
    perRun.push({
      perSecond: Math.round(decisions / (total / 1e6)),
      p50Us: round2(quantile(times, 0.5)),
      p99Us: round2(quantile(times, 0.99)),
      meanUs: round2(total / decisions),
    });
    // Let the event loop breathe between runs (and keep this async for callers that await).
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (sink < 0) throw new Error("unreachable"); // keeps the decisions observable

  return {
    rules: ruleCount,
    decisions,
    runs,
    perSecond: median(perRun.map((r) => r.perSecond)),
    p50Us: median(perRun.map((r) => r.p50Us)),
    p99Us: median(perRun.map((r) => r.p99Us)),
    meanUs: median(perRun.map((r) => r.meanUs)),
    meanMatchPosition: round2(scanned / (decisions * runs)),
    perRun,
  };
}

function argOf(name: string): number | undefined {
  const argv = process.argv.slice(2);
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  const raw = argv[i]!.includes("=") ? argv[i]!.split("=")[1] : argv[i + 1];
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${raw}`);
  return n;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchRouting({
    rules: argOf("rules"),
    decisions: argOf("decisions"),
    runs: argOf("runs"),
  });
  console.log(JSON.stringify(result, null, 2));
}
