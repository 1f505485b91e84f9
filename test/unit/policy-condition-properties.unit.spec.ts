// Properties of the condition set logic the policy validator relies on, over random conditions and
// payments: containment and intersection agree with matching, and every condition contains itself.
// The router's properties: policy-router-properties.unit.spec.ts.
import { expect } from "chai";
import fc from "fast-check";
import {
  compileConditions,
  intersects,
  matchesNothing,
  subsumes,
} from "../../actors/policy/core/conditions.ts";
import { regionOf } from "../../actors/policy/core/region.ts";
import { RUNS, conditions, paymentFacts } from "./policy-arbitraries.ts";

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
