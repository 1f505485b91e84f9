// Expected fees: percentages read exactly, integer arithmetic, half-up rounding, minimums.
import { expect } from "chai";
import {
  exactFee,
  expectedFee,
  feeOnTerms,
  feeTermsFor,
  percentPart,
  percentToPpm,
  type FeeQuery,
} from "../../actors/policy/core/fees.ts";
import { FeePolicy } from "../../actors/policy/core/schemas.ts";

const POLICY = FeePolicy.parse({
  kind: "fees",
  psps: {
    acme: [
      { schemes: ["amex"], fixed: { EUR: 25 }, percent: "2.9", minimum: { EUR: 50 } },
      {
        schemes: ["visa", "mastercard"],
        regions: ["domestic", "intra_eea"],
        fixed: { EUR: 25, USD: 30 },
        percent: "1.4",
      },
      { schemes: ["visa", "mastercard"], fixed: { EUR: 25 }, percent: "2.9" },
    ],
    flat: [{ fixed: { EUR: 0, JPY: 0 }, percent: "1" }],
    big: [{ fixed: { EUR: 0 }, percent: "99.9999" }],
  },
});

const q = (over: Partial<FeeQuery> = {}): FeeQuery => ({
  amount: 10000,
  currency: "EUR",
  brand: "visa",
  region: "intra_eea",
  ...over,
});

describe("fees: percentages", () => {
  it("reads a decimal percentage into exact parts per million", () => {
    expect(percentToPpm("1.4")).to.equal(14000);
    expect(percentToPpm("0.0001")).to.equal(1);
    expect(percentToPpm("12")).to.equal(120000);
    expect(percentToPpm("2.95")).to.equal(29500);
    expect(percentToPpm("0")).to.equal(0);
    expect(percentToPpm("99.9999")).to.equal(999999);
  });

  it("rejects percentages that are not plain decimals with at most four decimals", () => {
    for (const bad of ["1.23456", "-1", "1e2", "abc", "", ".5", "1."])
      expect(() => percentToPpm(bad)).to.throw(RangeError);
  });
});

describe("fees: the terms recorded at routing (issue 16)", () => {
  it("prices a partial capture with the fixed part in full and the percentage of what was captured", () => {
    const terms = feeTermsFor(POLICY, "acme", q())!;
    expect(terms).to.deep.equal({ fixed: 25, ppm: 14_000, minimum: 0 });
    expect(feeOnTerms(terms, 10_000)).to.equal(expectedFee(POLICY, "acme", q()));
    // 1,000 of 10,000 captured: 25 + 14, not a tenth of 165.
    expect(feeOnTerms(terms, 1_000)).to.equal(39);
    const amex = feeTermsFor(POLICY, "acme", q({ brand: "amex" }))!;
    expect(feeOnTerms(amex, 100)).to.equal(50);
    expect(feeTermsFor(POLICY, "nobody", q())).to.equal(null);
  });
});

describe("fees: expected fee", () => {
  it("adds the fixed part to the percentage part of the first entry that matches", () => {
    expect(expectedFee(POLICY, "acme", q())).to.equal(25 + 140);
    expect(expectedFee(POLICY, "acme", q({ region: "international" }))).to.equal(25 + 290);
    expect(expectedFee(POLICY, "acme", q({ currency: "USD" }))).to.equal(30 + 140);
  });

  it("charges at least the minimum", () => {
    expect(expectedFee(POLICY, "acme", q({ brand: "amex", amount: 100 }))).to.equal(50);
    expect(expectedFee(POLICY, "acme", q({ brand: "amex", amount: 10000 }))).to.equal(25 + 290);
  });

  it("has no price when no entry of the PSP matches the brand, region and currency, or the PSP is not listed", () => {
    expect(expectedFee(POLICY, "acme", q({ currency: "USD", region: "international" }))).to.equal(null);
    expect(expectedFee(POLICY, "acme", q({ brand: "discover" }))).to.equal(null);
    expect(expectedFee(POLICY, "nobody", q())).to.equal(null);
  });

  it("rounds the percentage part half up", () => {
    expect(expectedFee(POLICY, "flat", q({ amount: 50 }))).to.equal(1); // 0.5 → 1
    expect(expectedFee(POLICY, "flat", q({ amount: 49 }))).to.equal(0); // 0.49 → 0
    expect(expectedFee(POLICY, "flat", q({ amount: 150 }))).to.equal(2); // 1.5 → 2
    expect(expectedFee(POLICY, "flat", q({ amount: 249, currency: "JPY" }))).to.equal(2); // 2.49 → 2
    expect(percentPart(5, 100000)).to.equal(1); // 0.5 → 1
  });

  it("stays exact for the largest amounts, beyond the safe-integer range of the product", () => {
    // 10^12 × 999 999 ppm / 10^6 = 999 999 000 000 exactly; one unit more adds 0.999999, rounded up.
    expect(expectedFee(POLICY, "big", q({ amount: 1_000_000_000_000 }))).to.equal(999_999_000_000);
    expect(expectedFee(POLICY, "big", q({ amount: 1_000_000_000_001 }))).to.equal(999_999_000_001);
    expect(percentPart(999_999_999_999, 999_999)).to.equal(999_998_999_999); // …999.000001 → down
  });

  it("gives the unrounded fee as an exact fraction beside its minimum", () => {
    expect(exactFee(POLICY, "acme", q({ amount: 12345 }))).to.deep.equal({
      numerator: 25n * 1_000_000n + 12345n * 14000n,
      denominator: 1_000_000n,
      minimum: 0,
    });
    expect(exactFee(POLICY, "nobody", q())).to.equal(null);
  });
});
