// Properties of the policy engine over random policies, payments and health: the router is a
// deterministic function that never routes to a PSP that cannot or should not take the payment,
// its hash splits traffic as weighted, fee arithmetic is exact, and the condition set logic the
// validator relies on agrees with matching.
import { expect } from "chai";
import fc from "fast-check";
import {
  compileConditions,
  intersects,
  matchesNothing,
  subsumes,
} from "../../actors/policy/core/conditions.ts";
import type { PaymentFacts, PspHealth, RoutingInput } from "../../actors/policy/core/decision.ts";
import { exactFee, expectedFee, type FeeQuery } from "../../actors/policy/core/fees.ts";
import { regionOf } from "../../actors/policy/core/region.ts";
import { decideRoute } from "../../actors/policy/core/router.ts";
import {
  Conditions,
  FeePolicy,
  RetryPolicy,
  RoutingPolicy,
  type RoutingOutcome,
} from "../../actors/policy/core/schemas.ts";
import { sandboxCapabilities } from "./policy-fixtures.ts";

const RUNS = { numRuns: 200 };

const CAPS = sandboxCapabilities({
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

const conditions: fc.Arbitrary<Conditions> = fc
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

const paymentFacts: fc.Arbitrary<PaymentFacts> = fc.record({
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

const psps = fc.subarray([...PSPS], { minLength: 1 });
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

const FEES = FeePolicy.parse({
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
const RETRIES = RetryPolicy.parse({ kind: "retries" });

const routingInput: fc.Arbitrary<RoutingInput> = fc
  .record({ policy: routingPolicy, facts: paymentFacts, health })
  .map(({ policy, facts, health }) => ({
    facts,
    routing: { version: 1, policy },
    fees: { version: 1, policy: FEES },
    retries: { version: 1, policy: RETRIES },
    capabilities: CAPS,
    health,
  }));

// ---------------------------------------------------------------------------------------------

describe("router properties", () => {
  it("is deterministic: the same input, even a copy of the policy, gives a deep-equal decision", () => {
    fc.assert(
      fc.property(routingInput, (input) => {
        const a = decideRoute(input);
        const copy = RoutingPolicy.parse(JSON.parse(JSON.stringify(input.routing.policy)));
        const b = decideRoute({ ...input, routing: { version: 1, policy: copy } });
        expect(b).to.deep.equal(a);
        expect(decideRoute(input)).to.deep.equal(a);
      }),
      RUNS,
    );
  });

  it("orders exactly the candidates that can take the payment and are healthy, never another first", () => {
    fc.assert(
      fc.property(routingInput, (input) => {
        const d = decideRoute(input);
        const routable = d.candidates.filter((c) => c.excluded.length === 0).map((c) => c.psp);
        expect([...d.order].sort()).to.deep.equal([...routable].sort());
        for (const psp of d.order) {
          const caps = CAPS.get(psp)!;
          const h = input.health.get(psp)!;
          expect(caps.currencies).to.include(input.facts.currency);
          expect(caps.brands).to.include(input.facts.brand);
          expect(h.forcedOut).to.equal(false);
          expect(h.circuit).not.to.equal("open");
          if (input.facts.capture === "manual") expect(caps.partialCapture).to.equal(true);
        }
        expect(new Set(d.candidates.map((c) => c.psp)).size).to.equal(d.candidates.length);
      }),
      RUNS,
    );
  });

  it("applies the first rule whose conditions match, else the fallback", () => {
    fc.assert(
      fc.property(routingInput, (input) => {
        const p = input.routing.policy;
        const region = regionOf(input.facts.binCountry, p.home_country);
        const first = p.rules.findIndex((r) => compileConditions(r.when)(input.facts, region));
        const d = decideRoute(input);
        expect(d.ruleIndex).to.equal(first < 0 ? null : first);
        expect(d.strategy).to.equal(first < 0 ? "fallback" : p.rules[first]!.then.type);
      }),
      RUNS,
    );
  });

  it("puts the routable PSP with the lowest expected fee first under least_cost", () => {
    fc.assert(
      fc.property(routingInput, psps, (input, list) => {
        const policy = RoutingPolicy.parse({
          kind: "routing",
          home_country: "NL",
          rules: [{ id: "lc", then: { type: "least_cost", psps: list } }],
          fallback: [],
        });
        const d = decideRoute({ ...input, routing: { version: 1, policy } });
        const fees = d.candidates
          .filter((c) => c.excluded.length === 0)
          .map((c) => c.expectedFee ?? Infinity);
        if (d.order.length === 0) return;
        const first = d.candidates.find((c) => c.psp === d.order[0])!;
        expect(first.expectedFee ?? Infinity).to.equal(Math.min(...fees));
      }),
      RUNS,
    );
  });

  it("splits payments over a weighted rule's arms in proportion to their weights", () => {
    fc.assert(
      fc.property(
        fc.tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 })).map(([a, b]) => {
          const [lo, hi] = a < b ? [a, b] : [b, a];
          return [lo, hi - lo, 100 - hi];
        }),
        fc.string({ maxLength: 6 }),
        (weights, prefix) => {
          const arms = ["acme", "bolt", "cobalt"];
          const policy = RoutingPolicy.parse({
            kind: "routing",
            home_country: "NL",
            rules: [
              {
                id: "w",
                then: { type: "weighted", split: arms.map((psp, i) => ({ psp, weight: weights[i] })) },
              },
            ],
            fallback: [],
          });
          const n = 20_000;
          const counts = new Map<string, number>();
          for (let i = 0; i < n; i++) {
            const d = decideRoute({
              facts: {
                paymentId: `${prefix}pay_${i}`,
                merchantId: "m1",
                amount: 1000,
                currency: "EUR",
                brand: "visa",
                binCountry: "NL",
                capture: "automatic",
                metadata: {},
              },
              routing: { version: 1, policy },
              fees: { version: 1, policy: FEES },
              retries: { version: 1, policy: RETRIES },
              capabilities: CAPS,
              health: new Map(),
            });
            counts.set(d.order[0]!, (counts.get(d.order[0]!) ?? 0) + 1);
          }
          arms.forEach((psp, i) => {
            const share = ((counts.get(psp) ?? 0) / n) * 100;
            expect(share).to.be.closeTo(weights[i]!, 2, `${psp} weight ${weights[i]}`);
            if (weights[i] === 0) expect(counts.get(psp) ?? 0).to.equal(0);
          });
        },
      ),
      { numRuns: 8 },
    );
  });
});

describe("fee properties", () => {
  const percent = fc
    .tuple(fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 9999 }))
    .map(([whole, decimals, frac]) =>
      decimals === 0 ? String(whole) : `${whole}.${String(frac).padStart(4, "0").slice(0, decimals)}`,
    );
  const feePolicy = fc
    .record({
      fixed: fc.integer({ min: 0, max: 1000 }),
      percent,
      minimum: fc.option(fc.integer({ min: 0, max: 5000 }), { nil: undefined }),
    })
    .map(({ fixed, percent, minimum }) =>
      FeePolicy.parse({
        kind: "fees",
        psps: {
          p: [
            {
              fixed: { EUR: fixed },
              percent,
              ...(minimum === undefined ? {} : { minimum: { EUR: minimum } }),
            },
          ],
        },
      }),
    );
  const amount = fc.oneof(
    fc.integer({ min: 1, max: 100_000 }),
    fc.integer({ min: 1, max: 1_000_000_000_000 }),
  );
  const q = (a: number): FeeQuery => ({
    amount: a,
    currency: "EUR",
    brand: "visa",
    region: "domestic",
  });

  it("never loses a cent: an integer, the exact fee rounded half up, within half a unit, at least the minimum", () => {
    fc.assert(
      fc.property(feePolicy, amount, (policy, a) => {
        const fee = expectedFee(policy, "p", q(a))!;
        const exact = exactFee(policy, "p", q(a))!;
        expect(Number.isSafeInteger(fee)).to.equal(true);
        const rounded = (exact.numerator * 2n + exact.denominator) / (2n * exact.denominator);
        const expected = rounded > BigInt(exact.minimum) ? rounded : BigInt(exact.minimum);
        expect(BigInt(fee)).to.equal(expected);
        expect(fee).to.be.at.least(exact.minimum);
        if (BigInt(fee) === rounded) {
          // |fee − exact| ≤ ½  ⇔  |2·fee·den − 2·num| ≤ den
          const diff = 2n * BigInt(fee) * exact.denominator - 2n * exact.numerator;
          expect(diff <= exact.denominator && -diff <= exact.denominator).to.equal(true);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("is monotone in the amount", () => {
    fc.assert(
      fc.property(feePolicy, amount, fc.integer({ min: 0, max: 1_000_000 }), (policy, a, d) => {
        expect(expectedFee(policy, "p", q(a))!).to.be.at.most(expectedFee(policy, "p", q(a + d))!);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("condition set logic properties", () => {
  const home = fc.constantFrom("NL", "DE", "US");

  it("never claims a containment that a payment contradicts", () => {
    fc.assert(
      fc.property(
        conditions,
        conditions,
        home,
        fc.array(paymentFacts, { minLength: 30, maxLength: 30 }),
        (a, b, h, fs) => {
          if (!subsumes(a, b, h)) return;
          const ma = compileConditions(a);
          const mb = compileConditions(b);
          for (const f of fs) {
            const region = regionOf(f.binCountry, h);
            if (mb(f, region)) expect(ma(f, region), JSON.stringify({ a, b, f })).to.equal(true);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("never calls two rules disjoint when a payment matches both", () => {
    fc.assert(
      fc.property(
        conditions,
        conditions,
        home,
        fc.array(paymentFacts, { minLength: 30, maxLength: 30 }),
        (a, b, h, fs) => {
          const ma = compileConditions(a);
          const mb = compileConditions(b);
          for (const f of fs) {
            const region = regionOf(f.binCountry, h);
            if (ma(f, region) && mb(f, region))
              expect(intersects(a, b, h), JSON.stringify({ a, b, f })).to.equal(true);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("finds every condition contains itself and intersects itself unless it matches nothing", () => {
    fc.assert(
      fc.property(conditions, home, (a, h) => {
        expect(subsumes(a, a, h)).to.equal(true);
        expect(subsumes({}, a, h)).to.equal(true);
        expect(intersects(a, a, h)).to.equal(!matchesNothing(a, h));
      }),
      RUNS,
    );
  });
});
