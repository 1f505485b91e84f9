// The sandbox's degrade controls, per simulated PSP, through the real adapters over HTTP: failure
// rate, added latency, timeouts, outage; set in process and over /_sandbox, read back and reset.
import { randomUUID } from "node:crypto";
import { expect } from "chai";
import type { AuthorizeRequest, PspConnector } from "../../actors/psp/contract.ts";
import { createConnectors } from "../../actors/psp/registry.ts";
import { startSandbox, type Behaviour, type Sandbox } from "../../scripts/sandbox-psp.ts";

const nextYear = new Date().getUTCFullYear() + 1;
const authorization = (): AuthorizeRequest => ({
  idempotencyKey: randomUUID(),
  reference: randomUUID(),
  amount: 2500,
  currency: "EUR",
  capture: false,
  card: { number: "4242424242424242", expMonth: 3, expYear: nextYear, cvc: "123" },
});

const DEFAULTS: Behaviour = { latencyMs: 0, outage: false, fault: "none", failureRate: 0, timeoutRate: 0 };

describe("sandbox degrade controls", () => {
  let sandbox: Sandbox;
  let connectors: Map<string, PspConnector>;
  let impatient: Map<string, PspConnector>;
  // Draws for the failure and timeout rates: the test decides which requests they hit.
  let draws: number[];

  before(async () => {
    sandbox = await startSandbox({ port: 0, slowCardDelayMs: 1500, random: () => draws.shift() ?? 0.99 });
    connectors = createConnectors({ sandboxUrl: sandbox.url, timeoutMs: 5000 });
    impatient = createConnectors({ sandboxUrl: sandbox.url, timeoutMs: 250 });
  });
  after(async () => {
    await sandbox.close();
  });
  beforeEach(() => {
    draws = [];
  });
  afterEach(() => {
    sandbox.resetBehaviour("acme");
    sandbox.resetBehaviour("bolt");
  });

  const behaviourUrl = (psp: string) => `${sandbox.url}/_sandbox/psps/${psp}/behaviour`;
  const post = (psp: string, body: unknown) =>
    fetch(behaviourUrl(psp), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  for (const name of ["acme", "bolt"] as const) {
    describe(`for ${name}`, () => {
      const psp = () => connectors.get(name)!;

      it("answers every authorization with a not-processed technical error at failureRate 1, charging nothing", async () => {
        sandbox.setBehaviour(name, { failureRate: 1 });
        const before = sandbox.requests(name).authorizations;
        const reqs = [authorization(), authorization(), authorization()];
        for (const req of reqs) {
          expect(await psp().authorize(req)).to.include({
            outcome: "technical_error",
            code: "psp_unavailable",
          });
          expect(sandbox.charges({ reference: req.reference })).to.be.empty;
        }
        expect(sandbox.requests(name).authorizations).to.equal(before + 3);
        // Nothing was stored under the key: once the PSP recovers the same attempt goes through.
        sandbox.resetBehaviour(name);
        expect(await psp().authorize(reqs[0]!)).to.include({ outcome: "authorized" });
        expect(sandbox.charges({ reference: reqs[0]!.reference })).to.have.length(1);
      });

      it("fails the share of authorizations its draws fall under, and only authorizations", async () => {
        sandbox.setBehaviour(name, { failureRate: 0.5 });
        draws = [0.1, 0.9, 0.49, 0.5];
        const outcomes = [];
        for (let i = 0; i < 4; i++) outcomes.push((await psp().authorize(authorization())).outcome);
        expect(outcomes).to.deep.equal(["technical_error", "authorized", "technical_error", "authorized"]);
        // A status query is not an authorization: failureRate leaves it alone (and draws nothing).
        draws = [0];
        expect(await psp().status({ idempotencyKey: randomUUID() })).to.deep.equal({ found: false });
        expect(draws).to.deep.equal([0]);
      });

      it("adds latency to every answer", async () => {
        sandbox.setBehaviour(name, { latencyMs: 200 });
        const started = performance.now();
        expect(await psp().authorize(authorization())).to.include({ outcome: "authorized" });
        expect(performance.now() - started).to.be.at.least(195);
      });

      it("holds back answers at timeoutRate 1 past the client's timeout, while the charge is made and found by status", async () => {
        sandbox.setBehaviour(name, { timeoutRate: 1 });
        const req = authorization();
        expect(await impatient.get(name)!.authorize(req)).to.include({ outcome: "unknown", code: "timeout" });
        expect(sandbox.charges({ reference: req.reference })).to.have.length(1);
        // Status queries time out too while it lasts…
        expect(await impatient.get(name)!.status({ idempotencyKey: req.idempotencyKey })).to.include({
          found: "unknown",
          code: "timeout",
        });
        sandbox.resetBehaviour(name);
        // …and afterwards find the one charge; repeating the attempt replays it instead of charging again.
        const status = await psp().status({ idempotencyKey: req.idempotencyKey });
        expect((status as { result: object }).result).to.include({ outcome: "authorized" });
        expect(await psp().authorize(req)).to.include({ outcome: "authorized" });
        expect(sandbox.charges({ reference: req.reference })).to.have.length(1);
      });

      it("times out only the share of requests its draws fall under", async () => {
        sandbox.setBehaviour(name, { timeoutRate: 0.3 });
        draws = [0.2, 0.8];
        expect(await impatient.get(name)!.authorize(authorization())).to.include({ outcome: "unknown" });
        expect(await impatient.get(name)!.authorize(authorization())).to.include({ outcome: "authorized" });
      });

      it("answers everything with the outage reply while out, whatever else is set", async () => {
        sandbox.setBehaviour(name, { outage: true, timeoutRate: 1, fault: "http_500" });
        const req = authorization();
        expect(await impatient.get(name)!.authorize(req)).to.include({
          outcome: "technical_error",
          code: "psp_unavailable",
        });
        expect(sandbox.charges({ reference: req.reference })).to.be.empty;
      });
    });
  }

  it("degrades one PSP without touching the other", async () => {
    sandbox.setBehaviour("acme", { failureRate: 1 });
    expect(await connectors.get("acme")!.authorize(authorization())).to.include({
      outcome: "technical_error",
    });
    expect(await connectors.get("bolt")!.authorize(authorization())).to.include({ outcome: "authorized" });
    expect(sandbox.behaviour("bolt")).to.deep.equal(DEFAULTS);
  });

  it("sets, reads and resets the controls over HTTP, snake_case or camelCase", async () => {
    const set = await post("bolt", { failure_rate: 1, timeoutRate: 0.25, latency_ms: 5 });
    expect(set.status).to.equal(200);
    expect(await set.json()).to.deep.equal({
      psp: "bolt",
      behaviour: { ...DEFAULTS, failureRate: 1, timeoutRate: 0.25, latencyMs: 5 },
    });

    const before = sandbox.requests("bolt");
    draws = [0.9];
    expect(await connectors.get("bolt")!.authorize(authorization())).to.include({ code: "psp_unavailable" });
    const read = await fetch(behaviourUrl("bolt"));
    expect(await read.json()).to.deep.equal({
      psp: "bolt",
      behaviour: { ...DEFAULTS, failureRate: 1, timeoutRate: 0.25, latencyMs: 5 },
      requests: { total: before.total + 1, authorizations: before.authorizations + 1 },
    });

    const reset = await fetch(behaviourUrl("bolt"), { method: "DELETE" });
    expect(await reset.json()).to.deep.equal({ psp: "bolt", behaviour: DEFAULTS });
    expect(sandbox.behaviour("bolt")).to.deep.equal(DEFAULTS);
    expect(await connectors.get("bolt")!.authorize(authorization())).to.include({ outcome: "authorized" });
  });

  it("keeps the existing fields working over HTTP", async () => {
    expect((await post("acme", { outage: true, fault: "garbled", latencyMs: 0 })).status).to.equal(200);
    expect(sandbox.behaviour("acme")).to.include({ outage: true, fault: "garbled" });
  });

  it("refuses invalid controls and unknown PSPs", async () => {
    for (const body of [{ failure_rate: 2 }, { timeoutRate: -0.1 }, { latencyMs: 1.5 }, { shaky: true }]) {
      expect((await post("acme", body)).status, JSON.stringify(body)).to.equal(400);
    }
    expect(sandbox.behaviour("acme")).to.deep.equal(DEFAULTS);
    expect((await post("nope", { outage: true })).status).to.equal(404);
    expect((await fetch(behaviourUrl("nope"))).status).to.equal(404);
    expect((await fetch(behaviourUrl("nope"), { method: "DELETE" })).status).to.equal(404);
    expect(() => sandbox.setBehaviour("acme", { failureRate: 5 })).to.throw();
  });
});
