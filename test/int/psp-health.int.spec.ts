// PSP health end to end in one process: the real acme and bolt adapters, wrapped in guarded(), against
// the real sandbox over HTTP, with one PspHealthBoard per test. Degrading the sandbox
// opens a circuit; after open_ms probes go out and close it again.
import { randomUUID } from "node:crypto";
import { expect } from "chai";
import { CircuitThresholds } from "../../actors/policy/core/schemas.ts";
import type { AuthorizeRequest, AuthorizeResult, PspConnector } from "../../actors/psp/contract.ts";
import { guarded } from "../../actors/psp/guarded.ts";
import { PspHealthBoard, type HealthChange } from "../../actors/psp/health.ts";
import { createConnectors } from "../../actors/psp/registry.ts";
import { startSandbox, type Sandbox } from "../../scripts/sandbox-psp.ts";
import { createMetrics, type Metrics } from "../../config/metrics.ts";
import { parseMetrics, series } from "../support/prometheus.ts";
import { waitFor } from "../support/wait.ts";
import { capturingLogger } from "../support/log-capture.ts";

const SUCCEEDS = "4242424242424242";
const DECLINES = "4000000000000002";
const nextYear = new Date().getUTCFullYear() + 1;

const authorization = (number = SUCCEEDS): AuthorizeRequest => ({
  idempotencyKey: randomUUID(),
  reference: randomUUID(),
  amount: 1000,
  currency: "EUR",
  capture: false,
  card: { number, expMonth: 3, expYear: nextYear, cvc: "123" },
});

const THRESHOLDS = CircuitThresholds.parse({
  window: 10,
  min_calls: 5,
  failure_rate: 0.5,
  consecutive_failures: 3,
  open_ms: 200,
  half_open_probes: 2,
});

describe("PSP health: guarded connectors against the sandbox", () => {
  let sandbox: Sandbox;
  let board: PspHealthBoard;
  let metrics: Metrics;
  let logged: string[];
  type LogLine = { msg: string; psp?: string; to?: string; forcedOut?: boolean };
  const logLines = () =>
    logged.flatMap((chunk) => chunk.split("\n").filter(Boolean)).map((l) => JSON.parse(l) as LogLine);
  let psps: Map<string, PspConnector>;

  before(async () => {
    sandbox = await startSandbox({ port: 0 });
  });
  after(async () => {
    await sandbox.close();
  });

  beforeEach(() => {
    metrics = createMetrics();
    const capture = capturingLogger("info");
    logged = capture.lines;
    board = new PspHealthBoard({
      log: capture.log,
      metrics,
      thresholds: THRESHOLDS,
      psps: ["acme", "bolt"],
    });
    const raw = createConnectors({ sandboxUrl: sandbox.url, timeoutMs: 2000 });
    psps = new Map([...raw].map(([name, c]) => [name, guarded(c, board)]));
  });
  afterEach(() => {
    board.close();
    sandbox.resetBehaviour("acme");
    sandbox.resetBehaviour("bolt");
  });

  const acme = () => psps.get("acme")!;
  const circuit = (psp: string) => board.health().get(psp)?.circuit;
  const sentToAcme = () => sandbox.requests("acme").authorizations;
  const metric = async (name: string, labels: Record<string, string>) =>
    series(parseMetrics(await metrics.registry.metrics()), name, labels).map((s) => s.value);

  async function openAcme(): Promise<AuthorizeResult[]> {
    sandbox.setBehaviour("acme", { outage: true });
    const results: AuthorizeResult[] = [];
    for (let i = 0; i < THRESHOLDS.consecutive_failures; i++)
      results.push(await acme().authorize(authorization()));
    expect(circuit("acme")).to.equal("open");
    return results;
  }

  it("opens a PSP's circuit after consecutive failures and then refuses locally, without calling the PSP", async () => {
    const failures = await openAcme();
    for (const r of failures) expect(r).to.include({ outcome: "technical_error", code: "psp_unavailable" });
    const sent = sentToAcme();
    const req = authorization();
    const refused = await acme().authorize(req);
    expect(refused).to.include({ outcome: "technical_error", code: "circuit_open", class: "technical" });
    expect(sentToAcme()).to.equal(sent);
    expect(sandbox.charges({ reference: req.reference })).to.be.empty;
    // The other PSP is unaffected.
    expect(circuit("bolt")).to.equal("closed");
    expect(await psps.get("bolt")!.authorize(authorization())).to.include({ outcome: "authorized" });
    expect(await metric("switchyard_psp_circuit_state", { psp: "acme" })).to.deep.equal([2]);
    expect(
      await metric("switchyard_psp_circuit_transitions_total", { psp: "acme", to: "open" }),
    ).to.deep.equal([1]);
    expect(logLines().some((l) => l.msg === "psp circuit opened" && l.psp === "acme")).to.equal(true);
  });

  it("half-opens after open_ms, and closes once the probes succeed", async () => {
    await openAcme();
    sandbox.setBehaviour("acme", { outage: false });
    expect(board.reports().find((r) => r.psp === "acme")?.retryAt).to.be.a("string");
    // Waiting here is time passing (open_ms), not synchronisation: the circuit is defined by the clock.
    await waitFor(() => circuit("acme") === "half_open", { timeoutMs: 2000, what: "acme half-open" });
    await waitFor(async () => (await metric("switchyard_psp_circuit_state", { psp: "acme" }))[0] === 1, {
      timeoutMs: 2000,
      what: "the circuit state gauge to show half-open",
    });
    const sent = sentToAcme();
    expect(await acme().authorize(authorization())).to.include({ outcome: "authorized" });
    expect(circuit("acme")).to.equal("half_open");
    expect(await acme().authorize(authorization())).to.include({ outcome: "authorized" });
    expect(sentToAcme()).to.equal(sent + 2);
    expect(circuit("acme")).to.equal("closed");
    expect(board.health().get("acme")).to.deep.include({ forcedOut: false, samples: 0 });
    expect(await metric("switchyard_psp_circuit_state", { psp: "acme" })).to.deep.equal([0]);
    for (const to of ["open", "half_open", "closed"])
      expect(await metric("switchyard_psp_circuit_transitions_total", { psp: "acme", to }), to).to.deep.equal(
        [1],
      );
  });

  it("opens again when a probe fails", async () => {
    await openAcme();
    await waitFor(() => circuit("acme") === "half_open", { timeoutMs: 2000, what: "acme half-open" });
    expect(await acme().authorize(authorization())).to.include({ code: "psp_unavailable" });
    expect(circuit("acme")).to.equal("open");
    expect(await acme().authorize(authorization())).to.include({ code: "circuit_open" });
  });

  it("lets only half_open_probes authorizations out at once while half-open", async () => {
    await openAcme();
    sandbox.setBehaviour("acme", { outage: false, latencyMs: 300 });
    await waitFor(() => circuit("acme") === "half_open", { timeoutMs: 2000, what: "acme half-open" });
    const sent = sentToAcme();
    const results = await Promise.all([1, 2, 3].map(() => acme().authorize(authorization())));
    expect(results.map((r) => r.outcome).sort()).to.deep.equal([
      "authorized",
      "authorized",
      "technical_error",
    ]);
    expect(results.find((r) => r.outcome === "technical_error")).to.include({ code: "circuit_open" });
    expect(sentToAcme()).to.equal(sent + 2);
    expect(circuit("acme")).to.equal("closed");
  });

  it("counts declines as healthy answers and as not successful", async () => {
    for (let i = 0; i < 6; i++)
      expect(await acme().authorize(authorization(DECLINES))).to.include({ outcome: "declined" });
    await acme().authorize(authorization());
    await acme().authorize(authorization());
    const health = board.health().get("acme")!;
    expect(health).to.include({ circuit: "closed", samples: 8, successRate: 0.25 });
    expect(await metric("switchyard_psp_success_rate", { psp: "acme" })).to.deep.equal([0.25]);
    expect(await metric("switchyard_psp_latency_seconds_count", { psp: "acme" })).to.deep.equal([8]);
    const report = board.reports().find((r) => r.psp === "acme")!;
    expect(report).to.include({
      successRate: 0.25,
      failureRate: 0,
      samples: 8,
      consecutiveFailures: 0,
      circuit: "closed",
    });
    expect(report.latencyMs.p50).to.be.a("number");
  });

  it("keeps a forced-out PSP out of rotation without calling it, and lets it back in", async () => {
    const changes: HealthChange[] = [];
    board.onChange((c) => changes.push(c));
    await board.setForcedOut("acme", true);
    expect(board.health().get("acme")).to.include({ forcedOut: true, circuit: "closed" });
    const sent = sentToAcme();
    const refused = await acme().authorize(authorization());
    expect(refused).to.include({ outcome: "technical_error", code: "circuit_open" });
    expect((refused as { message: string }).message).to.include("forced out");
    expect(sentToAcme()).to.equal(sent);
    expect(await metric("switchyard_psp_forced_out", { psp: "acme" })).to.deep.equal([1]);
    expect(changes.find((c) => c.kind === "forced")?.report).to.include({ psp: "acme", forcedOut: true });
    expect(logLines().some((l) => l.msg === "psp forced out of rotation" && l.psp === "acme")).to.equal(true);

    await board.setForcedOut("acme", false);
    expect(await acme().authorize(authorization())).to.include({ outcome: "authorized" });
    expect(await metric("switchyard_psp_forced_out", { psp: "acme" })).to.deep.equal([0]);
  });

  it("applies new thresholds at run time", async () => {
    await board.setThresholds({ ...THRESHOLDS, consecutive_failures: 1 });
    sandbox.setBehaviour("acme", { outage: true });
    await acme().authorize(authorization());
    expect(circuit("acme")).to.equal("open");
  });

  it("opens on the failure share of the window with failures not in a row", async () => {
    // fail, ok, fail, ok, fail: 3 of 5 ≥ 50 % with min_calls 5, never 3 in a row.
    for (const outage of [true, false, true, false, true]) {
      sandbox.setBehaviour("acme", { outage });
      await acme().authorize(authorization());
    }
    expect(circuit("acme")).to.equal("open");
    expect(board.reports().find((r) => r.psp === "acme")).to.include({ consecutiveFailures: 1, samples: 5 });
  });

  it("treats timeouts as failures: unknown outcomes open the circuit too", async () => {
    const impatient = guarded(
      createConnectors({ sandboxUrl: sandbox.url, timeoutMs: 100 }).get("acme")!,
      board,
    );
    // The sandbox takes the authorizations and never answers within the test (its delay ends when
    // it closes), so what ends each call is the connector's deadline, not a race between two delays.
    sandbox.setBehaviour("acme", { latencyMs: 600_000 });
    const sent = sentToAcme();
    for (let i = 0; i < 3; i++)
      expect(await impatient.authorize(authorization())).to.include({ outcome: "unknown", code: "timeout" });
    expect(sentToAcme(), "authorizations the sandbox received").to.equal(sent + 3);
    expect(circuit("acme")).to.equal("open");
  });

  it("admits and records synchronously, so the probe limit holds without waiting on anything", () => {
    let clock = 1_000_000;
    const own = new PspHealthBoard({
      log: capturingLogger("info").log,
      thresholds: THRESHOLDS,
      psps: ["acme"],
      now: () => clock,
    });
    try {
      for (let i = 0; i < THRESHOLDS.consecutive_failures; i++) {
        const a = own.admit("acme");
        own.record("acme", "technical_error", 5, a.allowed ? a.ticket : undefined);
      }
      expect(own.health().get("acme")?.circuit).to.equal("open");
      expect(own.admit("acme")).to.deep.equal({ allowed: false, reason: "circuit open" });
      clock += THRESHOLDS.open_ms;
      const admitted = [1, 2, 3].map(() => own.admit("acme").allowed);
      expect(admitted).to.deep.equal([true, true, false]);
      // Half-open with every probe out: routing sees it as open.
      expect(own.health().get("acme")?.circuit).to.equal("open");
      expect(own.reports()[0]).to.include({ psp: "acme", circuit: "half_open" });
    } finally {
      own.close();
    }
  });

  it("lets capture, void, refund and status through while the circuit is open", async () => {
    const ok = await acme().authorize(authorization());
    if (ok.outcome !== "authorized") expect.fail(JSON.stringify(ok));
    await openAcme();
    sandbox.setBehaviour("acme", { outage: false });
    const captured = await acme().capture({
      idempotencyKey: randomUUID(),
      pspReference: ok.pspReference,
      amount: 1000,
      currency: "EUR",
    });
    expect(captured).to.include({ outcome: "succeeded" });
    expect(circuit("acme")).to.equal("open");
  });
});
