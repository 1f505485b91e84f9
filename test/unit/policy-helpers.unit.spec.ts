// The routing's small pure helpers: the region a card's country makes, the salted hash that splits
// and explores, and the technical backoff of the retry terms.
import { expect } from "chai";
import { EEA, regionOf } from "../../actors/policy/core/region.ts";
import { backoffMs, retryTermsOf } from "../../actors/policy/core/retry.ts";
import { stableHash } from "../../actors/policy/core/router.ts";
import { RetryPolicy } from "../../actors/policy/core/schemas.ts";

const RETRIES = RetryPolicy.parse({ kind: "retries" });

describe("regions, hashing and backoff", () => {
  it("classifies cards as domestic, intra-EEA or international", () => {
    expect(regionOf("NL", "NL")).to.equal("domestic");
    expect(regionOf("NO", "DE")).to.equal("intra_eea");
    expect(regionOf("GB", "NL")).to.equal("international");
    expect(regionOf("DE", "US")).to.equal("international");
    expect(regionOf("US", "US")).to.equal("domestic");
    expect(regionOf(null, "NL")).to.equal("international");
    expect(EEA.size).to.equal(30);
  });

  it("hashes with salts into unsigned 32-bit integers, stably", () => {
    expect(stableHash("split", "pay_1")).to.equal(stableHash("split", "pay_1"));
    expect(stableHash("split", "pay_1")).not.to.equal(stableHash("explore", "pay_1"));
    const h = stableHash("split", "x");
    expect(Number.isInteger(h) && h >= 0 && h < 2 ** 32).to.equal(true);
  });

  it("doubles the technical backoff from its initial value up to its cap", () => {
    const t = retryTermsOf(RETRIES);
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffMs(t, n))).to.deep.equal([
      50, 100, 200, 400, 800, 1000, 1000,
    ]);
    expect(backoffMs({ ...t, backoffMultiplier: 1.5, backoffInitialMs: 3 }, 2)).to.equal(4);
    expect(backoffMs({ ...t, backoffInitialMs: 0 }, 500)).to.equal(0);
    expect(() => backoffMs(t, 0)).to.throw(RangeError);
  });
});
