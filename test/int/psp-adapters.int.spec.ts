// The real acme and bolt adapters against the real sandbox, over HTTP on a random port. The same
// specification runs for both PSPs: different wire formats, the same normalized behaviour.

import { randomUUID } from "node:crypto";
import { createServer, type AddressInfo } from "node:net";
import { expect } from "chai";
import type { AuthorizeRequest, CardSecret, PspConnector } from "../../actors/psp/contract.ts";
import { createConnectors } from "../../actors/psp/registry.ts";
import { startSandbox, type Sandbox } from "../../scripts/sandbox-psp.ts";

const CARD = {
  succeeds: "4242424242424242",
  otherValid: "5555555555554444",
  hardDecline: "4000000000000002",
  insufficientFunds: "4000000000009995",
  processingError: "4000000000000119",
  threeDs: "4000000000003220",
  stepUp: "4000002760003184",
  slow: "4000000000000077",
  notLuhn: "4242424242424241",
} as const;

const nextYear = new Date().getUTCFullYear() + 1;
const card = (number: string, expYear = nextYear): CardSecret => ({
  number,
  expMonth: 3,
  expYear,
  cvc: "123",
});

function authorization(over: Partial<AuthorizeRequest> = {}): AuthorizeRequest {
  return {
    idempotencyKey: randomUUID(),
    reference: randomUUID(),
    amount: 1234,
    currency: "EUR",
    capture: false,
    card: card(CARD.succeeds),
    ...over,
  };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  return port;
}

describe("PSP adapters against the sandbox", () => {
  let sandbox: Sandbox;
  let connectors: Map<string, PspConnector>;
  // Shorter than the slow card's delay, so its answer arrives too late.
  let impatient: Map<string, PspConnector>;

  before(async () => {
    sandbox = await startSandbox({ port: 0, slowCardDelayMs: 1500 });
    connectors = createConnectors({ sandboxUrl: sandbox.url, timeoutMs: 5000 });
    impatient = createConnectors({ sandboxUrl: sandbox.url, timeoutMs: 300 });
  });

  after(async () => {
    await sandbox.close();
  });

  for (const name of ["acme", "bolt"] as const) {
    describe(`the ${name} adapter`, () => {
      const psp = () => connectors.get(name)!;
      const onlyCharge = (reference: string) => {
        const charges = sandbox.charges({ reference });
        expect(charges).to.have.length(1);
        return charges[0]!;
      };
      const authorize = async (over: Partial<AuthorizeRequest> = {}) => {
        const req = authorization(over);
        const result = await psp().authorize(req);
        if (result.outcome !== "authorized")
          expect.fail(`expected authorized, got ${JSON.stringify(result)}`);
        return { req, pspReference: result.pspReference };
      };

      const capture = (pspReference: string, amount: number) =>
        psp().capture({ idempotencyKey: randomUUID(), pspReference, amount, currency: "EUR" });

      afterEach(() => sandbox.resetBehaviour(name));

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
