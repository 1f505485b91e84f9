// SWITCHYARD_MERCHANT_EVENTS_MAX_AGE: how long PAY_OUT (the merchant events feed) keeps an event, 7
// days unless set; a bad value stops start-up naming the variable. And PAY_OUT's stream config.
import { expect } from "chai";
import { ConfigError, loadConfig } from "../../config/env.ts";
import { topologyOf } from "../../streams/infra.ts";
import { merchantEventSubject, streamConfigs, topology } from "../../streams/topology.ts";

describe("the merchant events feed's configuration", () => {
  it("keeps PAY_OUT's events 7 days unless SWITCHYARD_MERCHANT_EVENTS_MAX_AGE says otherwise", () => {
    expect(loadConfig({}).merchantEventsMaxAgeMs).to.equal(7 * 86_400_000);
    const config = loadConfig({ SWITCHYARD_MERCHANT_EVENTS_MAX_AGE: "36h", SWITCHYARD_PREFIX: "acme" });
    expect(config.merchantEventsMaxAgeMs).to.equal(36 * 3_600_000);
    const out = streamConfigs(topologyOf(config)).find((c) => c.name === "acme_PAY_OUT");
    expect(out).to.include({ max_age: 36 * 3_600_000 * 1_000_000, num_replicas: 1, retention: "limits" });
    expect(out?.subjects).to.deep.equal(["acme.pay.out.>"]);
    expect(out?.duplicate_window).to.be.above(0);
  });

  it("refuses a value that is not a duration in range, naming the variable", () => {
    for (const bad of ["0", "30s", "abc", "7 d", "-1d", "400d", "1e3", "7d\u0000"]) {
      let message = "";
      try {
        loadConfig({ SWITCHYARD_MERCHANT_EVENTS_MAX_AGE: bad });
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        message = err.message;
      }
      expect(message, JSON.stringify(bad)).to.include("SWITCHYARD_MERCHANT_EVENTS_MAX_AGE");
    }
  });

  it("puts a merchant's payment events on one subject per payment under its merchant", () => {
    expect(merchantEventSubject(topology("", 4), "m_acme", "pay_1")).to.equal("pay.out.m_acme.pay_1");
    expect(merchantEventSubject(topology("p1", 4), "m_acme", "pay_1")).to.equal("p1.pay.out.m_acme.pay_1");
  });
});
