// The sandbox remembers its charges across a restart, as a real PSP would: an authorization made
// before `npm start` was stopped can be captured, refunded and queried after it starts again.
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import type { AuthorizeRequest } from "../../actors/psp/contract.ts";
import { createConnectors } from "../../actors/psp/registry.ts";
import { startSandbox } from "../../scripts/sandbox-psp.ts";
import { SandboxStateError } from "../../scripts/sandbox/state-file.ts";

describe("the sandbox's records across a restart", () => {
  let dir: string;
  let stateFile: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "switchyard-sandbox-"));
    stateFile = join(dir, "sandbox-psp.json");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const restarted = async <T>(use: (url: string) => Promise<T>): Promise<T> => {
    const sandbox = await startSandbox({ port: 0, stateFile });
    try {
      return await use(sandbox.url);
    } finally {
      await sandbox.close();
    }
  };
  const connector = (url: string, name: "acme" | "bolt") =>
    createConnectors({ sandboxUrl: url, timeoutMs: 5000 }).get(name)!;

  for (const name of ["acme", "bolt"] as const) {
    it(`keeps ${name}'s charges, answers and idempotency keys`, async () => {
      const req: AuthorizeRequest = {
        idempotencyKey: randomUUID(),
        reference: randomUUID(),
        amount: 5000,
        currency: "EUR",
        capture: false,
        card: {
          number: "4242424242424242",
          expMonth: 3,
          expYear: new Date().getUTCFullYear() + 1,
          cvc: "123",
        },
      };
      const first = await restarted((url) => connector(url, name).authorize(req));
      if (first.outcome !== "authorized") expect.fail(`authorize: ${JSON.stringify(first)}`);

      await restarted(async (url) => {
        const psp = connector(url, name);
        expect(await psp.authorize(req)).to.deep.equal(first); // replayed, not charged again
        expect(await psp.status({ idempotencyKey: req.idempotencyKey })).to.deep.include({ found: true });
        const captured = await psp.capture({
          idempotencyKey: randomUUID(),
          pspReference: first.pspReference,
          amount: 5000,
          currency: "EUR",
        });
        expect(captured).to.include({ outcome: "succeeded" });
      });

      await restarted(async (url) => {
        const refunded = await connector(url, name).refund({
          idempotencyKey: randomUUID(),
          pspReference: first.pspReference,
          amount: 1000,
          currency: "EUR",
        });
        expect(refunded).to.include({ outcome: "succeeded" });
      });

      const last = await startSandbox({ port: 0, stateFile });
      try {
        const charges = last.charges({ reference: req.reference });
        expect(charges).to.have.length(1);
        expect(charges[0]).to.include({
          status: "partially_refunded",
          capturedAmount: 5000,
          refundedAmount: 1000,
        });
        expect(JSON.stringify(charges)).not.to.contain("4242424242424242");
        expect(readFileSync(stateFile, "utf8")).not.to.contain("4242424242424242");
      } finally {
        await last.close();
      }
    });
  }

  it("keeps the closed settlement batches and what they settled: a report is the same after a restart", async () => {
    const req: AuthorizeRequest = {
      idempotencyKey: randomUUID(),
      reference: randomUUID(),
      amount: 2500,
      currency: "EUR",
      capture: true,
      card: { number: "4242424242424242", expMonth: 3, expYear: new Date().getUTCFullYear() + 1, cvc: "123" },
    };
    const closed = await restarted(async (url) => {
      expect(await connector(url, "bolt").authorize(req)).to.include({ outcome: "authorized" });
      const res = await fetch(`${url}/_sandbox/psps/bolt/settlements`, { method: "POST" });
      const body = (await res.json()) as { url: string; batch: number };
      return { ...body, csv: await (await fetch(`${url}${body.url}`)).text() };
    });
    await restarted(async (url) => {
      expect(await (await fetch(`${url}${closed.url}`)).text()).to.equal(closed.csv);
      // Already settled: nothing pending, and the next batch would be number 2.
      const again = await fetch(`${url}/_sandbox/psps/bolt/settlements`, { method: "POST" });
      expect(await again.json()).to.include({ lines: 0, batch: null });
    });
    expect(closed.batch).to.equal(1);
  });

  it("refuses to start on a file that is not its state, rather than forget every charge", async () => {
    writeFileSync(stateFile, '{"something": "else"}');
    let error: unknown;
    await startSandbox({ port: 0, stateFile }).catch((err: unknown) => (error = err));
    expect(error).to.be.instanceOf(SandboxStateError);
  });
});
