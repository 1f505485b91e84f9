// The sandbox remembers its charges across a restart, as a real PSP would: an authorization made
// before `npm start` was stopped can be captured, refunded and queried after it starts again.
import { randomUUID } from "node:crypto";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import pino from "pino";
import type { AuthorizeRequest } from "../../actors/psp/contract.ts";
import { createConnectors } from "../../actors/psp/registry.ts";
import { startSandbox } from "../../scripts/sandbox-psp.ts";
import { journalPathOf, SandboxStateError } from "../../scripts/sandbox/state-file.ts";

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
  const authorization = (capture = false): AuthorizeRequest => ({
    idempotencyKey: randomUUID(),
    reference: randomUUID(),
    amount: 5000,
    currency: "EUR",
    capture,
    card: { number: "4242424242424242", expMonth: 3, expYear: new Date().getUTCFullYear() + 1, cvc: "123" },
  });

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
        expect(readFileSync(journalPathOf(stateFile), "utf8")).not.to.contain("4242424242424242");
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

  it("remembers every charge and answer after many changes, written in O(changes) bytes: the journal is compacted and the files stay bounded", async function () {
    this.timeout(120_000);
    const payments = 150; // 4 changes each: the charge and its answer, authorized then captured
    const compaction = { ratio: 2, minBytes: 16 * 1024 };
    const reqs = Array.from({ length: payments }, () => authorization());
    const sandbox = await startSandbox({ port: 0, stateFile, stateCompaction: compaction });
    const answers: unknown[] = [];
    try {
      const psp = connector(sandbox.url, "acme");
      for (const req of reqs) {
        const first = await psp.authorize(req);
        if (first.outcome !== "authorized") expect.fail(`authorize: ${JSON.stringify(first)}`);
        answers.push(first);
        const captured = await psp.capture({
          idempotencyKey: randomUUID(),
          pspReference: first.pspReference,
          amount: 5000,
          currency: "EUR",
        });
        expect(captured).to.include({ outcome: "succeeded" });
      }
    } finally {
      await sandbox.close();
    }
    const stats = sandbox.persistence()!;
    expect(stats.changes).to.equal(4 * payments);
    // A request's changes (the charge, then the answer stored under its key) go in one append.
    expect(stats.appends).to.be.at.most(stats.changes / 2);
    expect(stats.compactions).to.be.at.least(2);
    // Each change is appended once, as one line no bigger than its record (a charge or an answer:
    // well under 2 KiB here); snapshots add at most a constant factor on top (ratio 2: ≤ 1.5× the
    // appended bytes). Rewriting the whole state on each change would be quadratic: tens of MB here.
    expect(stats.bytesAppended).to.be.at.most(stats.changes * 2048);
    expect(stats.bytesWritten).to.be.at.most(3 * stats.bytesAppended);
    // The files on disk are the snapshot of the state and a journal smaller than the compaction bound.
    expect(statSync(stateFile).size).to.equal(stats.snapshotBytes);
    expect(statSync(journalPathOf(stateFile)).size).to.equal(stats.journalBytes);
    expect(stats.journalBytes).to.be.below(
      Math.max(compaction.minBytes, compaction.ratio * stats.snapshotBytes),
    );

    await restarted(async (url) => {
      const psp = connector(url, "acme");
      for (const [i, req] of reqs.entries()) {
        if (i % 10 === 0) expect(await psp.authorize(req)).to.deep.equal(answers[i]); // replayed
      }
    });
    const last = await startSandbox({ port: 0, stateFile });
    try {
      const charges = last.charges({ psp: "acme" });
      expect(charges.map((c) => c.reference).sort()).to.deep.equal(reqs.map((r) => r.reference).sort());
      expect(charges.every((c) => c.status === "captured" && c.capturedAmount === 5000)).to.equal(true);
    } finally {
      await last.close();
    }
  });

  it("survives a torn last journal line (a crash in the middle of an append): a warning, never a failed start", async () => {
    const req = authorization();
    const first = await restarted((url) => connector(url, "bolt").authorize(req));
    expect(first).to.include({ outcome: "authorized" });
    appendFileSync(journalPathOf(stateFile), '{"t":"charge","psp":"bolt","charge":{"psp":"bolt","id":"TO');

    const lines: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
    const sandbox = await startSandbox({ port: 0, stateFile, logger });
    try {
      const psp = connector(sandbox.url, "bolt");
      expect(await psp.authorize(req)).to.deep.equal(first); // what came before the torn line is kept
      expect(await psp.authorize(authorization())).to.include({ outcome: "authorized" });
    } finally {
      await sandbox.close();
    }
    expect(lines.join("")).to.match(/torn/);
    // The journal goes on from the last whole line: the next start reads both charges.
    const last = await startSandbox({ port: 0, stateFile });
    try {
      expect(last.charges({ psp: "bolt" })).to.have.length(2);
    } finally {
      await last.close();
    }
  });

  it("loads a state file of the former single-file format and carries on from it", async () => {
    const charge = {
      psp: "acme",
      id: "ch_former0000000000000001",
      idempotencyKey: randomUUID(),
      reference: randomUUID(),
      amount: 700,
      currency: "EUR",
      status: "authorized",
      capturedAmount: 0,
      refundedAmount: 0,
      createdAt: new Date().toISOString(),
      last4: "4242",
      verdict: "approve",
    };
    const reply = { status: 200, body: { id: charge.id, object: "charge", status: "requires_capture" } };
    writeFileSync(
      stateFile,
      JSON.stringify({
        v: 1,
        psps: { acme: { charges: [charge], replies: [[charge.idempotencyKey, reply]] } },
      }),
    );
    await restarted(async (url) => {
      const captured = await connector(url, "acme").capture({
        idempotencyKey: randomUUID(),
        pspReference: charge.id,
        amount: 700,
        currency: "EUR",
      });
      expect(captured).to.include({ outcome: "succeeded" });
    });
    expect(JSON.parse(readFileSync(stateFile, "utf8"))).to.include({ v: 2 }); // migrated on the first start
    const last = await startSandbox({ port: 0, stateFile });
    try {
      expect(last.charges({ reference: charge.reference })[0]).to.include({
        status: "captured",
        capturedAmount: 700,
      });
    } finally {
      await last.close();
    }
  });

  it("ignores a journal already folded into the snapshot (a crash between writing a snapshot and restarting the journal)", async () => {
    const req = authorization();
    const first = await restarted((url) => connector(url, "acme").authorize(req));
    if (first.outcome !== "authorized") expect.fail(`authorize: ${JSON.stringify(first)}`);
    const before = readFileSync(journalPathOf(stateFile), "utf8"); // says: authorized

    // Every write compacts: the capture ends up in a new snapshot and a fresh journal.
    const sandbox = await startSandbox({ port: 0, stateFile, stateCompaction: { ratio: 0, minBytes: 0 } });
    try {
      const captured = await connector(sandbox.url, "acme").capture({
        idempotencyKey: randomUUID(),
        pspReference: first.pspReference,
        amount: 5000,
        currency: "EUR",
      });
      expect(captured).to.include({ outcome: "succeeded" });
    } finally {
      await sandbox.close();
    }
    expect(sandbox.persistence()?.compactions).to.be.at.least(1);
    writeFileSync(journalPathOf(stateFile), before); // the former journal, as a crash would leave it

    const last = await startSandbox({ port: 0, stateFile });
    try {
      expect(last.charges({ reference: req.reference })[0]).to.include({ status: "captured" });
    } finally {
      await last.close();
    }
  });

  it("keeps what happened after the call: a dispute opened on a charge is there after a restart", async () => {
    const req = authorization(true);
    const opened = await restarted(async (url) => {
      expect(await connector(url, "acme").authorize(req)).to.include({ outcome: "authorized" });
      const res = await fetch(`${url}/_sandbox/psps/acme/disputes`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ reference: req.reference, reason: "fraudulent" }),
      });
      expect(res.status).to.equal(201);
      return ((await res.json()) as { dispute: { id: string } }).dispute;
    });
    const last = await startSandbox({ port: 0, stateFile });
    try {
      const [charge] = last.charges({ reference: req.reference });
      expect(charge?.disputes ?? []).to.have.length(1);
      expect(charge?.disputes?.[0]).to.include({ status: "open", reason: "fraudulent" });
      expect(charge?.disputes?.[0]?.id).to.equal(opened.id);
    } finally {
      await last.close();
    }
  });
});
