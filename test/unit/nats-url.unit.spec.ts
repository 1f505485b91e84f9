// NATS_URL as a cluster's server list (comma-separated, as the NATS tools take it): each entry is
// checked at start-up, and the connection is given the list.
import { expect } from "chai";
import { ConfigError, loadConfig } from "../../config/env.ts";
import { natsServers } from "../../streams/connection.ts";

function problemOf(natsUrl: string): string {
  try {
    loadConfig({ NATS_URL: natsUrl });
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  expect.fail(`loadConfig accepted NATS_URL=${natsUrl}`);
}

describe("NATS_URL with several servers", () => {
  it("takes a comma-separated list, trimmed, and hands the connection each server", () => {
    const config = loadConfig({
      NATS_URL: " nats://127.0.0.1:4231 , nats://127.0.0.1:4232,tls://n3.internal:4222, ",
    });
    expect(config.nats.url).to.equal("nats://127.0.0.1:4231,nats://127.0.0.1:4232,tls://n3.internal:4222");
    expect(natsServers(config.nats.url)).to.deep.equal([
      "nats://127.0.0.1:4231",
      "nats://127.0.0.1:4232",
      "tls://n3.internal:4222",
    ]);
  });

  it("keeps a single server as it was", () => {
    expect(loadConfig({ NATS_URL: "nats://nats.internal:4223" }).nats.url).to.equal(
      "nats://nats.internal:4223",
    );
    expect(natsServers("nats://nats.internal:4223")).to.deep.equal(["nats://nats.internal:4223"]);
  });

  it("names the bad entry of a list, and refuses a list of nothing", () => {
    expect(problemOf("nats://127.0.0.1:4231,http://127.0.0.1:4232")).to.include(
      'NATS_URL: entry 2: expected a nats:// or tls:// URL, got scheme "http:"',
    );
    expect(problemOf("nats://127.0.0.1:4231,not a url")).to.include(
      "NATS_URL: entry 2: expected a nats:// or tls:// URL (the value does not parse as one)",
    );
    expect(problemOf(",,")).to.include("NATS_URL: expected at least one URL, got only commas");
  });
});
