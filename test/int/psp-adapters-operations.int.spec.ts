// The real acme and bolt adapters against the real sandbox, over HTTP on a random port: what
// follows an authorization. The same specification runs for both PSPs — partial and full captures,
// a capture above the authorized amount, voids, refunds up to the captured amount, and a refund
// repeated with the same key. Authorizations: psp-adapters-authorize.int.spec.ts.

import { randomUUID } from "node:crypto";
import { expect } from "chai";
import type { PspConnector } from "../../actors/psp/contract.ts";
import type { Sandbox } from "../../scripts/sandbox-psp.ts";
import { startAdapterSandbox, useAdapter } from "./psp-adapter-harness.ts";

describe("PSP adapters against the sandbox: operations", () => {
  let sandbox: Sandbox;
  let connectors: Map<string, PspConnector>;

  before(async () => {
    ({ sandbox, connectors } = await startAdapterSandbox());
  });

  after(async () => {
    await sandbox.close();
  });

  for (const name of ["acme", "bolt"] as const) {
    describe(`the ${name} adapter`, () => {
      const { psp, onlyCharge, authorize, capture } = useAdapter(name, () => ({ sandbox, connectors }));

      it("captures part of an authorization", async () => {
        const { req, pspReference } = await authorize();
        expect(await capture(pspReference, 1000)).to.include({ outcome: "succeeded" });
        expect(onlyCharge(req.reference)).to.include({ status: "captured", capturedAmount: 1000 });
      });

      it("captures the full authorization", async () => {
        const { req, pspReference } = await authorize();
        expect(await capture(pspReference, 1234)).to.include({ outcome: "succeeded" });
        expect(onlyCharge(req.reference)).to.include({ status: "captured", capturedAmount: 1234 });
      });

      it("refuses a capture above the authorized amount and leaves the authorization alone", async () => {
        const { req, pspReference } = await authorize();
        expect((await capture(pspReference, 1235)).outcome).to.equal("failed");
        expect(onlyCharge(req.reference)).to.include({ status: "authorized", capturedAmount: 0 });
      });

      it("voids an authorization, after which it cannot be captured", async () => {
        const { req, pspReference } = await authorize();
        const voided = await psp().void({ idempotencyKey: randomUUID(), pspReference });
        expect(voided).to.include({ outcome: "succeeded" });
        expect(onlyCharge(req.reference).status).to.equal("voided");
        expect((await capture(pspReference, 1234)).outcome).to.equal("failed");
      });

      it("adds refunds up to the captured amount and refuses an over-refund", async () => {
        const { req, pspReference } = await authorize({ capture: true });
        const refund = (amount: number) =>
          psp().refund({ idempotencyKey: randomUUID(), pspReference, amount, currency: "EUR" });
        expect(await refund(400)).to.include({ outcome: "succeeded" });
        expect(onlyCharge(req.reference)).to.include({ status: "partially_refunded", refundedAmount: 400 });
        expect((await refund(835)).outcome).to.equal("failed");
        expect(await refund(834)).to.include({ outcome: "succeeded" });
        expect(onlyCharge(req.reference)).to.include({ status: "refunded", refundedAmount: 1234 });
        expect((await refund(1)).outcome).to.equal("failed");
      });

      it("applies a refund repeated with the same key once", async () => {
        const { req, pspReference } = await authorize({ capture: true });
        const refund = { idempotencyKey: randomUUID(), pspReference, amount: 500, currency: "EUR" };
        const first = await psp().refund(refund);
        expect(first).to.include({ outcome: "succeeded" });
        expect(await psp().refund(refund)).to.deep.equal(first);
        expect(onlyCharge(req.reference).refundedAmount).to.equal(500);
      });
    });
  }
});
