// Which of an endpoint's secrets sign a delivery, by the rules alone (no sealing, no database):
// the current one always, the rotated-out one until its grace period ends, not at that instant.
import { expect } from "chai";
import {
  DEFAULT_SECRET_GRACE_MS,
  MAX_ENDPOINTS_PER_MERCHANT,
  secretsInForce,
} from "../../actors/webhooks/core/endpoint-rules.ts";
import { endpointRules } from "../../actors/webhooks/endpoints.ts";

describe("webhook endpoint rules", () => {
  const now = new Date("2026-01-01T12:00:00Z");
  const at = (ms: number) => new Date(now.getTime() + ms);

  it("signs with the current secret, then the previous one while its grace lasts", () => {
    expect(secretsInForce({ secret: "new", previous: "old", previousExpiresAt: at(1) }, now)).to.deep.equal([
      "new",
      "old",
    ]);
  });

  it("drops the previous secret once its grace has ended, at that very instant too", () => {
    expect(secretsInForce({ secret: "new", previous: "old", previousExpiresAt: at(0) }, now)).to.deep.equal([
      "new",
    ]);
    expect(secretsInForce({ secret: "new", previous: "old", previousExpiresAt: at(-1) }, now)).to.deep.equal([
      "new",
    ]);
  });

  it("signs with the current secret alone when none was rotated out", () => {
    expect(secretsInForce({ secret: "only", previous: null, previousExpiresAt: null }, now)).to.deep.equal([
      "only",
    ]);
    expect(secretsInForce({ secret: "only", previous: "old", previousExpiresAt: null }, now)).to.deep.equal([
      "only",
    ]);
  });

  it("gives the store a limit of 16 endpoints, a grace of a day unless configured, and whsec_ secrets", () => {
    const rules = endpointRules();
    expect(rules.maxPerMerchant).to.equal(MAX_ENDPOINTS_PER_MERCHANT).and.to.equal(16);
    expect(rules.secretGraceMs)
      .to.equal(DEFAULT_SECRET_GRACE_MS)
      .and.to.equal(24 * 3_600_000);
    expect(endpointRules(60_000).secretGraceMs).to.equal(60_000);
    expect(rules.newSecret()).to.match(/^whsec_[A-Za-z0-9+/]{43}=$/);
  });
});
