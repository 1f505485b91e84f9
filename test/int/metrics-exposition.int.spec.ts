// GET /metrics as Prometheus reads it: the exposition passes promtool's rules (checked here without
// promtool, and by promtool itself, which must be installed), default process metrics included.
import { spawnSync } from "node:child_process";
import { expect } from "chai";
import { createMetrics } from "../../config/metrics.ts";
import { lintExposition } from "../support/prometheus.ts";
import { requireCommand } from "../support/tools.ts";
import { startGateway, validCreateBody, type Harness } from "./gateway-harness.ts";

describe("metrics exposition", function () {
  let h: Harness;
  let text: string;

  before(async () => {
    h = await startGateway({ metrics: createMetrics({ defaultMetrics: true }) });
    // Some traffic first, so labelled series exist beside the bare families.
    await h.call("POST", "/v1/payments", { body: validCreateBody() });
    await h.call("GET", "/v1/payments/pay_none");
    await h.call("GET", "/healthz", { key: null });
    const res = await h.call("GET", "/metrics", { key: null });
    expect(res.status).to.equal(200);
    text = await res.text();
  });
  after(async () => {
    await h?.close();
  });

  it("follows promtool's rules: counters end in _total and nothing else does, HELP and TYPE everywhere", () => {
    expect(text).to.include("switchyard_http_request_duration_seconds_bucket");
    expect(text).to.include("switchyard_nodejs_active_handles");
    expect(lintExposition(text)).to.deep.equal([]);
  });

  it("the lint finds what promtool would: a gauge named *_total, a counter without it, a missing HELP", () => {
    const bad = [
      "# HELP a_total x",
      "# TYPE a_total gauge",
      "a_total 1",
      "# HELP b x",
      "# TYPE b counter",
      "b 1",
      "# TYPE c gauge",
      "c 1",
    ].join("\n");
    expect(lintExposition(bad)).to.have.members([
      'a_total: non-counter metrics should not have "_total" suffix',
      'b: counter metrics should have "_total" suffix',
      "c: no HELP",
    ]);
  });

  it("passes promtool check metrics", () => {
    requireCommand("promtool");
    const r = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    expect(r.status, `${r.stdout}${r.stderr}`).to.equal(0);
  });
});
