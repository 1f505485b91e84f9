// The real acme and bolt adapters against the real sandbox, over HTTP on a random port: how they
// authorize. The same specification runs for both PSPs — different wire formats, the same
// normalized behaviour — for approvals, declines and their classes, 3-D Secure, amounts in each
// currency's minor units, replays of one idempotency key, trace context, and no card number kept.
// Captures, voids and refunds: psp-adapters-operations.int.spec.ts; status lookups and faults:
// psp-adapters-faults.int.spec.ts.

import { expect } from "chai";
import type { PspConnector } from "../../actors/psp/contract.ts";
import type { Sandbox } from "../../scripts/sandbox-psp.ts";
import { CARD, authorization, card, startAdapterSandbox, useAdapter } from "./psp-adapter-harness.ts";

describe("PSP adapters against the sandbox: authorize", () => {
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
      const { psp, onlyCharge, authorize } = useAdapter(name, () => ({ sandbox, connectors }));

      it("authorizes the success card without capturing it when no capture is asked", async () => {
        const req = authorization();
        const result = await psp().authorize(req);
        expect(result).to.include({ outcome: "authorized", captured: false });
        expect(onlyCharge(req.reference)).to.include({
          psp: name,
          status: "authorized",
          amount: 1234,
          currency: "EUR",
        });
      });

      it("authorizes and captures in one call when capture is asked", async () => {
        const req = authorization({ capture: true });
        expect(await psp().authorize(req)).to.include({ outcome: "authorized", captured: true });
        expect(onlyCharge(req.reference)).to.include({ status: "captured", capturedAmount: 1234 });
      });

      it("authorizes any other Luhn-valid card", async () => {
        const req = authorization({ card: card(CARD.otherValid) });
        expect(await psp().authorize(req)).to.include({ outcome: "authorized" });
      });

      // Generic and transient refusals are soft (another PSP may be tried); insufficient funds is hard:
      // another acquirer would ask the same issuer about the same balance.
      const declines = [
        {
          number: CARD.hardDecline,
          code: "card_declined",
          cls: "soft_decline",
          what: "a generic card_declined",
        },
        {
          number: CARD.insufficientFunds,
          code: "insufficient_funds",
          cls: "hard_decline",
          what: "a hard insufficient_funds",
        },
        {
          number: CARD.processingError,
          code: "processing_error",
          cls: "soft_decline",
          what: "a soft processing_error",
        },
        { number: CARD.notLuhn, code: "invalid_card", cls: "hard_decline", what: "a hard invalid_card" },
      ] as const;
      for (const d of declines) {
        it(`declines ${d.number} as ${d.what}`, async () => {
          const req = authorization({ card: card(d.number) });
          const result = await psp().authorize(req);
          expect(result).to.include({
            outcome: "declined",
            code: d.code,
            class: d.cls,
            soft: d.cls === "soft_decline",
          });
          expect(result).to.have.property("pspReference").that.is.a("string");
          expect(onlyCharge(req.reference).status).to.equal("declined");
        });
      }

      it("declines an expired card as a hard expired_card", async () => {
        const result = await psp().authorize(authorization({ card: card(CARD.succeeds, 2020) }));
        expect(result).to.include({
          outcome: "declined",
          code: "expired_card",
          class: "hard_decline",
          soft: false,
        });
      });

      it("asks for 3-D Secure on the requires-action card, with a redirect URL", async () => {
        const req = authorization({ card: card(CARD.threeDs) });
        const result = await psp().authorize(req);
        expect(result).to.include({ outcome: "requires_action" });
        expect(result)
          .to.have.property("actionUrl")
          .that.satisfies((u: string) => u.startsWith(sandbox.url));
        expect(onlyCharge(req.reference).status).to.equal("requires_action");
      });

      it("declines the step-up card as authentication_required, and challenges it when 3-D Secure is asked", async () => {
        const plain = authorization({ card: card(CARD.stepUp) });
        expect(await psp().authorize(plain)).to.include({
          outcome: "declined",
          code: "authentication_required",
          class: "auth_required",
        });
        const stepUp = authorization({ card: card(CARD.stepUp), threeDs: true });
        expect(await psp().authorize(stepUp)).to.include({ outcome: "requires_action" });
        expect(onlyCharge(stepUp.reference).status).to.equal("requires_action");
        // Asking for 3-D Secure on a card that does not need it is frictionless.
        expect(await psp().authorize(authorization({ threeDs: true }))).to.include({ outcome: "authorized" });
      });

      it("states the amount on the challenge page in the currency's own decimals", async () => {
        for (const [currency, amount, shown] of [
          ["JPY", 1234, "1234 JPY"],
          ["KWD", 12345, "12.345 KWD"],
          ["EUR", 1234, "12.34 EUR"],
        ] as const) {
          if (!psp().capabilities?.currencies.includes(currency)) continue;
          const result = await psp().authorize(authorization({ card: card(CARD.threeDs), currency, amount }));
          if (result.outcome !== "requires_action") expect.fail(JSON.stringify(result));
          const page = await (await fetch(result.actionUrl)).text();
          expect(page, currency).to.include(`<strong>${shown}</strong>`);
        }
      });

      for (const [currency, amount] of [
        ["JPY", 1234],
        ["KWD", 1234],
        ["EUR", 5],
      ] as const) {
        it(`sends ${amount} minor units of ${currency} as exactly that amount`, async () => {
          const { req } = await authorize({ currency, amount });
          expect(onlyCharge(req.reference)).to.include({ amount, currency });
        });
      }

      it("replays a repeated authorization with the same key instead of charging twice", async () => {
        const req = authorization();
        const first = await psp().authorize(req);
        const again = await psp().authorize(req);
        expect(again).to.deep.equal(first);
        expect(onlyCharge(req.reference).id).to.equal((first as { pspReference: string }).pspReference);
      });

      it("replays a repeated decline with the same key too", async () => {
        const req = authorization({ card: card(CARD.hardDecline) });
        expect(await psp().authorize(req)).to.deep.equal(await psp().authorize(req));
        onlyCharge(req.reference);
      });

      it("passes the traceparent header on to the PSP", async () => {
        const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        const { req } = await authorize({ traceparent });
        expect(onlyCharge(req.reference).traceparent).to.equal(traceparent);
      });

      it("keeps no full card number in the sandbox's records or in any result", async () => {
        const results = await Promise.all(
          Object.values(CARD)
            .filter((n) => n !== CARD.slow)
            .map((n) => psp().authorize(authorization({ card: card(n) }))),
        );
        const everything = JSON.stringify([results, sandbox.charges({ psp: name })]);
        for (const number of Object.values(CARD)) expect(everything).not.to.include(number);
      });
    });
  }
});
