// Properties of the router over random policies, payments and health: it is a deterministic
// function that never routes to a PSP that cannot or should not take the payment, applies the first
// matching rule, puts the cheapest first under least_cost, and its hash splits traffic as weighted.
// Fee arithmetic: policy-fee-properties.unit.spec.ts; condition set logic:
// policy-condition-properties.unit.spec.ts.
import { expect } from "chai";
import fc from "fast-check";
import { compileConditions } from "../../actors/policy/core/conditions.ts";
import { regionOf } from "../../actors/policy/core/region.ts";
import { decideRoute } from "../../actors/policy/core/router.ts";
import { RoutingPolicy } from "../../actors/policy/core/schemas.ts";
import { CAPS, FEES, RETRIES, RUNS, psps, routingInput } from "./policy-arbitraries.ts";

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
