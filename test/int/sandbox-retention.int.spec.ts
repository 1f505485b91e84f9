// The sandbox keeps the newest SANDBOX_RETAIN_CHARGES charges per PSP, in memory and in its state
// file: `npm start` runs it in the product's process, and a test PSP that remembered every charge
// made that process grow ~2 KB per payment without end (issue 17). What it lets go of answers as an
// unknown charge; what it keeps works as before, across a restart too.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import type { AuthorizeRequest, PspConnector } from "../../actors/psp/contract.ts";
import { createConnectors } from "../../actors/psp/registry.ts";
import { startSandbox } from "../../scripts/sandbox-psp.ts";

describe("the sandbox's retention bound", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "switchyard-retain-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const authorization = (): AuthorizeRequest => ({
    idempotencyKey: randomUUID(),
    reference: randomUUID(),
    amount: 5000,
    currency: "EUR",
    capture: false,
    card: { number: "4242424242424242", expMonth: 3, expYear: new Date().getUTCFullYear() + 1, cvc: "123" },
  });
  const authorizeAll = async (psp: PspConnector, n: number) => {
    const made: Array<{ req: AuthorizeRequest; pspReference: string }> = [];
    for (let i = 0; i < n; i++) {
      const req = authorization();
      const res = await psp.authorize(req);
      if (res.outcome !== "authorized") expect.fail(`authorize: ${JSON.stringify(res)}`);
      made.push({ req, pspReference: res.pspReference });
    }
    return made;
  };
  const capture = (psp: PspConnector, pspReference: string) =>
    psp.capture({ idempotencyKey: randomUUID(), pspReference, amount: 5000, currency: "EUR" });

  for (const name of ["acme", "bolt"] as const) {
    it(`${name}: keeps the newest charges, lets go of the oldest, and says how many`, async () => {
      const sandbox = await startSandbox({ port: 0, retainCharges: 3 });
      try {
        const psp = createConnectors({ sandboxUrl: sandbox.url, timeoutMs: 5000 }).get(name)!;
        const made = await authorizeAll(psp, 5);
        expect(sandbox.charges({ psp: name }).map((c) => c.reference)).to.deep.equal(
          made.slice(2).map((m) => m.req.reference),
        );
        expect(sandbox.forgotten()).to.equal(2);
        expect(await psp.status({ idempotencyKey: made[0]!.req.idempotencyKey })).to.deep.include({
          found: false,
        });
        expect(await capture(psp, made[0]!.pspReference)).not.to.include({ outcome: "succeeded" });
        expect(await capture(psp, made[4]!.pspReference)).to.include({ outcome: "succeeded" });
        // The newest charge's authorization is still replayed, not charged again.
        expect(await psp.authorize(made[4]!.req)).to.include({ pspReference: made[4]!.pspReference });
        expect(sandbox.charges({ psp: name })).to.have.length(3);
      } finally {
        await sandbox.close();
      }
    });
  }

  it("the state file keeps what memory keeps: a restart brings back the newest charges only", async () => {
    const stateFile = join(dir, "sandbox-psp.json");
    const first = await startSandbox({
      port: 0,
      stateFile,
      retainCharges: 2,
      stateCompaction: { ratio: 0, minBytes: 0 },
    });
    let made: Array<{ req: AuthorizeRequest; pspReference: string }>;
    try {
      made = await authorizeAll(createConnectors({ sandboxUrl: first.url, timeoutMs: 5000 }).get("acme")!, 4);
    } finally {
      await first.close();
    }
    // Restarted with no bound: what the file held is what comes back.
    const second = await startSandbox({ port: 0, stateFile });
    try {
      const refs = second.charges({ psp: "acme" }).map((c) => c.reference);
      expect(refs).to.include.members(made.slice(2).map((m) => m.req.reference));
      expect(refs).not.to.include(made[0]!.req.reference);
    } finally {
      await second.close();
    }
  });
});
