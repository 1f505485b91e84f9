// Properties of the fee arithmetic over random fee policies and amounts: the expected fee is exact
// (an integer, the exact fee rounded half up, never below the minimum) and monotone in the amount.
// The router's properties: policy-router-properties.unit.spec.ts.
import { expect } from "chai";
import fc from "fast-check";
import { exactFee, expectedFee, type FeeQuery } from "../../actors/policy/core/fees.ts";
import { FeePolicy } from "../../actors/policy/core/schemas.ts";

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
