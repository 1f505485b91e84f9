// SWITCHYARD_LEASE_TTL_MS: how long a worker's member entry and partition leases live unrenewed.
import { expect } from "chai";
import { ConfigError, loadConfig } from "../../config/env.ts";

describe("the lease TTL setting", () => {
  it("defaults to 10 s and reads a value in milliseconds", () => {
    expect(loadConfig({}).leaseTtlMs).to.equal(10_000);
    expect(loadConfig({ SWITCHYARD_LEASE_TTL_MS: "2000" }).leaseTtlMs).to.equal(2_000);
  });

  it("refuses a TTL too short to renew in time, or not a number, naming the variable", () => {
    for (const bad of ["100", "ten", "-1"]) {
      let err: unknown;
      try {
        loadConfig({ SWITCHYARD_LEASE_TTL_MS: bad });
      } catch (e) {
        err = e;
      }
      expect(err, bad).to.be.instanceOf(ConfigError);
      expect((err as ConfigError).problems.join()).to.include("SWITCHYARD_LEASE_TTL_MS");
    }
  });
});
