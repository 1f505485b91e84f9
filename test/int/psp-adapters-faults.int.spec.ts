// The real acme and bolt adapters against the real sandbox, over HTTP on a random port: status
// lookups and faults. The same specification runs for both PSPs — an answer lost to a timeout, a
// 500, a garbled body or a reset connection is unknown and the status lookup resolves it; an outage
// or a refused connection is a technical error that charges nothing. Then the sandbox's own records
// and behaviour switches over HTTP. Authorizations: psp-adapters-authorize.int.spec.ts.

import { randomUUID } from "node:crypto";
import { expect } from "chai";
import type { PspConnector } from "../../actors/psp/contract.ts";
import { createConnectors } from "../../actors/psp/registry.ts";
import type { Sandbox } from "../../scripts/sandbox-psp.ts";
import {
  CARD,
  authorization,
  card,
  closedPort,
  startAdapterSandbox,
  useAdapter,
} from "./psp-adapter-harness.ts";

describe("PSP adapters against the sandbox: faults", () => {
  let sandbox: Sandbox;
  let connectors: Map<string, PspConnector>;
  // Shorter than the slow card's delay, so its answer arrives too late.
  let impatient: Map<string, PspConnector>;

  before(async () => {
    ({ sandbox, connectors, impatient } = await startAdapterSandbox());
  });

  after(async () => {
    await sandbox.close();
  });

  for (const name of ["acme", "bolt"] as const) {
    describe(`the ${name} adapter`, () => {
      const { psp, onlyCharge, authorize, capture } = useAdapter(name, () => ({ sandbox, connectors }));

      it("reports the slow card as unknown past the timeout, and status then finds it authorized", async () => {
        const req = authorization({ card: card(CARD.slow) });
        const result = await impatient.get(name)!.authorize(req);
        expect(result).to.include({ outcome: "unknown", code: "timeout" });
        const status = await psp().status({ idempotencyKey: req.idempotencyKey });
        expect(status).to.deep.include({ found: true });
        expect((status as { result: object }).result).to.include({ outcome: "authorized", captured: false });
        expect(onlyCharge(req.reference).status).to.equal("authorized");
      });

      it("reports a captured attempt's status as authorized and captured", async () => {
        const { req, pspReference } = await authorize({ capture: true });
        const status = await psp().status({ idempotencyKey: req.idempotencyKey });
        expect(status).to.deep.equal({
          found: true,
          result: { outcome: "authorized", pspReference, captured: true },
        });
      });

      it("reports a declined attempt's status as the same decline", async () => {
        const req = authorization({ card: card(CARD.insufficientFunds) });
        const declined = await psp().authorize(req);
        expect(await psp().status({ idempotencyKey: req.idempotencyKey })).to.deep.equal({
          found: true,
          result: declined,
        });
      });

      it("answers found:false for a key the PSP never saw", async () => {
        expect(await psp().status({ idempotencyKey: randomUUID() })).to.deep.equal({ found: false });
      });

      it("maps an outage to technical_error, charges nothing, and lets the same key succeed afterwards", async () => {
        sandbox.setBehaviour(name, { outage: true });
        const req = authorization();
        expect(await psp().authorize(req)).to.include({
          outcome: "technical_error",
          code: "psp_unavailable",
          class: "technical",
        });
        expect(sandbox.charges({ reference: req.reference })).to.be.empty;
        expect(await psp().status({ idempotencyKey: req.idempotencyKey })).to.include({ found: "unknown" });
        sandbox.setBehaviour(name, { outage: false });
        expect(await psp().authorize(req)).to.include({ outcome: "authorized" });
        onlyCharge(req.reference);
      });

      it("maps an outage during a capture to technical_error and captures nothing", async () => {
        const { req, pspReference } = await authorize();
        sandbox.setBehaviour(name, { outage: true });
        const captured = await capture(pspReference, 1234);
        expect(captured).to.include({ outcome: "technical_error" });
        expect(onlyCharge(req.reference).status).to.equal("authorized");
      });

      const lostAnswers = [
        { fault: "http_500", code: "server_error", what: "a 500" },
        { fault: "garbled", code: "bad_response", what: "a body that is not JSON" },
        { fault: "reset", code: "connection_reset", what: "a reset connection" },
      ] as const;
      for (const { fault, code, what } of lostAnswers) {
        it(`treats ${what} after processing as unknown, and status resolves it`, async () => {
          sandbox.setBehaviour(name, { fault });
          const req = authorization();
          expect(await psp().authorize(req)).to.include({ outcome: "unknown", code, class: "unknown" });
          sandbox.setBehaviour(name, { fault: "none" });
          const status = await psp().status({ idempotencyKey: req.idempotencyKey });
          expect((status as { result: object }).result).to.include({ outcome: "authorized" });
          onlyCharge(req.reference);
        });
      }

      it("treats latency beyond the timeout as unknown although the charge exists", async () => {
        sandbox.setBehaviour(name, { latencyMs: 1000 });
        const req = authorization();
        expect(await impatient.get(name)!.authorize(req)).to.include({ outcome: "unknown", code: "timeout" });
        expect(onlyCharge(req.reference).status).to.equal("authorized");
      });

      it("maps a refused connection to technical_error", async () => {
        const down = createConnectors({
          sandboxUrl: `http://127.0.0.1:${await closedPort()}`,
          timeoutMs: 1000,
        });
        const result = await down.get(name)!.authorize(authorization());
        expect(result).to.include({
          outcome: "technical_error",
          code: "connection_refused",
          class: "technical",
        });
        const status = await down.get(name)!.status({ idempotencyKey: randomUUID() });
        expect(status).to.include({ found: "unknown", code: "connection_refused" });
      });
    });
  }

  it("exposes its records and behaviour switches over HTTP for out-of-process tests", async () => {
    const req = authorization();
    await connectors.get("bolt")!.authorize(req);
    const listed = await fetch(`${sandbox.url}/_sandbox/charges?reference=${req.reference}`);
    const { charges } = (await listed.json()) as { charges: { psp: string; reference: string }[] };
    expect(charges).to.have.length(1);
    expect(charges[0]).to.include({ psp: "bolt", reference: req.reference });

    const switched = await fetch(`${sandbox.url}/_sandbox/psps/acme/behaviour`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ outage: true }),
    });
    expect(switched.status).to.equal(200);
    try {
      expect(await connectors.get("acme")!.authorize(authorization())).to.include({
        outcome: "technical_error",
      });
    } finally {
      sandbox.setBehaviour("acme", { outage: false });
    }
  });
});
