// The expiry settings of 3-D Secure challenges: durations with their unit, the sweep's default
// derived from the expiry, and a bad value named at start-up.
import { expect } from "chai";
import { ConfigError, loadConfig } from "../../config/env.ts";

describe("config: challenge expiry", () => {
  it("expires challenges after an hour by default, swept every minute", () => {
    expect(loadConfig({}).challenges).to.deep.equal({ expiryMs: 3_600_000, sweepEveryMs: 60_000 });
  });

  it("reads durations with their unit, and sweeps a short expiry four times per period", () => {
    expect(loadConfig({ SWITCHYARD_CHALLENGE_EXPIRY: "2s" }).challenges).to.deep.equal({
      expiryMs: 2_000,
      sweepEveryMs: 500,
    });
    expect(
      loadConfig({ SWITCHYARD_CHALLENGE_EXPIRY: "15m", SWITCHYARD_CHALLENGE_SWEEP: "200ms" }).challenges,
    ).to.deep.equal({ expiryMs: 900_000, sweepEveryMs: 200 });
    expect(loadConfig({ SWITCHYARD_CHALLENGE_EXPIRY: "1500" }).challenges.expiryMs).to.equal(1_500);
  });

  it("refuses a duration without a known unit, or out of range, naming the variable", () => {
    for (const [name, raw] of [
      ["SWITCHYARD_CHALLENGE_EXPIRY", "2 days"],
      ["SWITCHYARD_CHALLENGE_EXPIRY", "10ms"],
      ["SWITCHYARD_CHALLENGE_SWEEP", "2d"],
    ] as const) {
      expect(() => loadConfig({ [name]: raw }), `${name}=${raw}`)
        .to.throw(ConfigError)
        .with.property("message")
        .that.contains(name);
    }
  });
});
