// Random policies, payments and health for the policy engine's property specs (router, condition
// set logic): sparse conditions that overlap and match often, routing policies over PSPs that exist
// and one that does not, and the fee and retry policies the router is given beside them.
import fc from "fast-check";
import type { PaymentFacts, PspHealth, RoutingInput } from "../../actors/policy/core/decision.ts";
import {
  Conditions,
  FeePolicy,
  RetryPolicy,
  RoutingPolicy,
  type RoutingOutcome,
} from "../../actors/policy/core/schemas.ts";
import { sandboxCapabilities } from "./policy-fixtures.ts";

export const RUNS = { numRuns: 200 };

export const CAPS = sandboxCapabilities({
  cobalt: {
    currencies: ["EUR", "SEK"],
    brands: ["visa"],
    threeDs: false,
    partialCapture: false,
    refunds: true,
  },
});
const PSPS = ["acme", "bolt", "cobalt", "ghost"] as const;
const CURRENCIES = ["EUR", "USD", "SEK", "JPY"] as const;
const BRANDS = ["visa", "mastercard", "amex", "discover", "unknown"] as const;
const COUNTRIES = ["NL", "DE", "NO", "US", "GB"] as const;
const REGIONS = ["domestic", "intra_eea", "international"] as const;

// ---------------------------------------------------------------------------------------------
// Arbitraries

const some = <T>(xs: readonly T[]) => fc.option(fc.subarray([...xs], { minLength: 1 }), { nil: undefined });
const bound = fc.constantFrom(1, 100, 1000, 10_000, 100_000);
const range = fc
  .record({ min: fc.option(bound, { nil: undefined }), max: fc.option(bound, { nil: undefined }) })
  .map((r) => (r.min !== undefined && r.max !== undefined && r.min > r.max ? { min: r.max, max: r.min } : r))
  .map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)));

export const conditions: fc.Arbitrary<Conditions> = fc
  .record(
    {
      currencies: some(CURRENCIES),
      amount: fc.option(fc.dictionary(fc.constantFrom(...CURRENCIES), range, { minKeys: 1, maxKeys: 3 }), {
        nil: undefined,
      }),
      brands: some(BRANDS),
      bin_countries: some(COUNTRIES),
      regions: some(REGIONS),
      merchants: some(["m1", "m2"]),
      capture: fc.option(fc.constantFrom("automatic" as const, "manual" as const), { nil: undefined }),
      metadata: fc.option(
        fc.dictionary(
          fc.constantFrom("tier", "campaign"),
          fc.constantFrom<string | true>("vip", "basic", true),
          {
            minKeys: 1,
          },
        ),
        { nil: undefined },
      ),
    },
    { requiredKeys: [] },
  )
  // Sparse conditions, so that rules overlap and match often.
  .chain((c) =>
    fc
      .subarray(Object.keys(c), { maxLength: Math.min(3, Object.keys(c).length) })
      .map((keys) => Conditions.parse(Object.fromEntries(keys.map((k) => [k, c[k as keyof typeof c]])))),
  );

export const paymentFacts: fc.Arbitrary<PaymentFacts> = fc.record({
  paymentId: fc.string({ minLength: 1, maxLength: 12 }),
  merchantId: fc.constantFrom("m1", "m2", "m3"),
  amount: fc.oneof(fc.constantFrom(1, 100, 1000, 10_000, 100_000), fc.integer({ min: 1, max: 200_000 })),
  currency: fc.constantFrom(...CURRENCIES),
  brand: fc.constantFrom(...BRANDS),
  binCountry: fc.constantFrom<string | null>(...COUNTRIES, "JP", null),
  capture: fc.constantFrom("automatic" as const, "manual" as const),
  metadata: fc.dictionary(fc.constantFrom("tier", "campaign", "x"), fc.constantFrom("vip", "basic", "gold"), {
    maxKeys: 2,
  }),
});

export const psps = fc.subarray([...PSPS], { minLength: 1 });
const outcome: fc.Arbitrary<RoutingOutcome> = fc.oneof(
  psps.map((p) => ({ type: "priority" as const, psps: p })),
  psps.map((p) => ({ type: "least_cost" as const, psps: p })),
  fc
    .record({ p: psps, exploration: fc.constantFrom(0, 0.1, 0.5), min_samples: fc.constantFrom(1, 20) })
    .map(({ p, exploration, min_samples }) => ({
      type: "best_success_rate" as const,
      psps: p,
      exploration,
      min_samples,
    })),
  fc
    .array(fc.record({ psp: fc.constantFrom(...PSPS), weight: fc.integer({ min: 0, max: 100 }) }), {
      minLength: 1,
      maxLength: 4,
    })
    .map((split) => ({ type: "weighted" as const, split })),
);

const routingPolicy: fc.Arbitrary<RoutingPolicy> = fc
  .record({
    rules: fc.array(
      fc.record({ when: conditions, then: outcome, requires: some(["three_ds", "refunds"] as const) }),
      {
        maxLength: 8,
      },
    ),
    fallback: fc.subarray([...PSPS]),
    requires: fc.subarray(["refunds", "three_ds"] as const),
    home: fc.constantFrom("NL", "DE", "US"),
  })
  .map(({ rules, fallback, requires, home }) =>
    RoutingPolicy.parse({
      kind: "routing",
      home_country: home,
      requires,
      fallback,
      rules: rules.map((r, i) => ({ id: `r${i}`, ...r })),
    }),
  );

const health: fc.Arbitrary<Map<string, PspHealth>> = fc
  .array(
    fc.record({
      circuit: fc.constantFrom("closed" as const, "open" as const, "half_open" as const),
      forcedOut: fc.boolean(),
      successRate: fc.double({ min: 0, max: 1, noNaN: true }),
      samples: fc.integer({ min: 0, max: 100 }),
    }),
    { minLength: PSPS.length, maxLength: PSPS.length },
  )
  .map((hs) => new Map(hs.map((h, i) => [PSPS[i]!, h])));

export const FEES = FeePolicy.parse({
  kind: "fees",
  psps: {
    acme: [
      {
        schemes: ["visa", "mastercard"],
        regions: ["domestic", "intra_eea"],
        fixed: { EUR: 25, USD: 30, SEK: 250 },
        percent: "1.4",
      },
      { fixed: { EUR: 25, USD: 30, SEK: 250 }, percent: "2.9", minimum: { EUR: 50 } },
    ],
    bolt: [{ fixed: { EUR: 20, USD: 25 }, percent: "1.25" }],
    cobalt: [{ fixed: { EUR: 0, SEK: 0 }, percent: "1.9", minimum: { EUR: 40 } }],
  },
});
export const RETRIES = RetryPolicy.parse({ kind: "retries" });

export const routingInput: fc.Arbitrary<RoutingInput> = fc
  .record({ policy: routingPolicy, facts: paymentFacts, health })
  .map(({ policy, facts, health }) => ({
    facts,
    routing: { version: 1, policy },
    fees: { version: 1, policy: FEES },
    retries: { version: 1, policy: RETRIES },
    capabilities: CAPS,
    health,
  }));
