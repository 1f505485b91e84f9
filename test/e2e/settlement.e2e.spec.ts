// Settlement end to end over HTTP: payments at both PSPs, the sandbox closes batches in each PSP's
// own format (with discrepancies injected on request), an operator uploads them, reconciliation
// matches or raises exactly the injected discrepancies, payments record their settlement, operators
// resolve exceptions, and the ledger balances and exports with a digest that verifies.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { expect } from "chai";
import { verifyExport, linesOf } from "../../actors/ledger/core/export.ts";
import { paymentBody, startTestPlatform, testEnv, type TestPlatform } from "../support/platform.ts";
import { runScript } from "../support/cli.ts";
import { waitFor } from "../support/wait.ts";

type Injected = { kind: string; psp_reference: string; line_id: string };
type Closed = { report_id: string; url: string; lines: number; injected: Injected[] };
type Ingest = {
  report_id: string;
  lines: number;
  matched: number;
  exceptions: number;
  rejected: number;
  replayed: boolean;
  rejects: Array<{ line_no: number; reason: string }>;
};
type Exc = { id: string; kind: string; status: string; payment_id: string | null; detail: string };
type Balance = { balanced: boolean; accounts: Array<{ account: string; currency: string; balance: number }> };

describe("settlement, reconciliation and the ledger (e2e)", function () {
  this.timeout(90_000);
  let platform: TestPlatform;

  before(async () => {
    platform = await startTestPlatform({ env: testEnv({ SWITCHYARD_SETTLEMENT_MISSING_DAYS: "0" }) });
  });
  after(async () => platform?.cleanup());

  const merchant = () => platform.api(platform.merchants[0]!);
  async function pay(amount: number, capture: "automatic" | "manual" = "automatic", currency = "EUR") {
    const res = await merchant().post("/v1/payments", paymentBody({ amount, capture, currency }));
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body;
  }
  async function sandbox<T>(path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${platform.sandbox!.url}${path}`, {
      method: body === undefined ? "GET" : "POST",
      ...(body !== undefined && {
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      }),
    });
    expect(res.status).to.be.oneOf([200, 201]);
    return (await res.json()) as T;
  }
  async function close(psp: string, discrepancies?: Record<string, number>) {
    await platform.readModels!.caughtUp("payments");
    const closed = await sandbox<Closed>(
      `/_sandbox/psps/${psp}/settlements`,
      discrepancies ? { discrepancies } : {},
    );
    const csv = await (await fetch(`${platform.sandbox!.url}${closed.url}`)).text();
    return { ...closed, csv };
  }
  async function upload(psp: string, csv: string | Uint8Array, reportId?: string, type = "text/csv") {
    const q = reportId ? `?report_id=${encodeURIComponent(reportId)}` : "";
    const res = await fetch(`${platform.url}/ops/settlements/${psp}/reports${q}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${platform.env.SWITCHYARD_OPERATOR_KEYS!.split(":")[1]}`,
        "content-type": type,
      },
      body: csv,
    });
    return { status: res.status, body: (await res.json()) as Ingest & { error?: { code: string } } };
  }
  async function exceptions(query = "") {
    const res = await platform.ops.get<{ exceptions: Exc[] }>(
      `/ops/reconciliation/exceptions?limit=500${query}`,
    );
    expect(res.status).to.equal(200);
    return res.body.exceptions;
  }
  const trial = async () => (await platform.ops.get<Balance>("/ops/ledger/trial-balance")).body;
  const settlementsOf = async (id: string) =>
    (await merchant().get(`/v1/payments/${id}`)).body.settlements ?? [];

  it("matches every line of a clean acme batch, settles the payments and balances the ledger", async () => {
    const full = await pay(10_000);
    const partial = await pay(8_000, "manual");
    expect((await merchant().post(`/v1/payments/${partial.id}/capture`, { amount: 6_000 })).status).to.equal(
      200,
    );
    const refunded = await pay(5_000);
    expect((await merchant().post(`/v1/payments/${refunded.id}/refunds`, { amount: 2_000 })).status).to.equal(
      200,
    );
    const voided = await pay(3_000, "manual");
    expect((await merchant().post(`/v1/payments/${voided.id}/cancel`, {})).status).to.equal(200);

    const batch = await close("acme");
    const first = await upload("acme", batch.csv, batch.report_id);
    expect(first.status, JSON.stringify(first.body)).to.equal(200);
    expect(first.body).to.deep.include({ exceptions: 0, rejected: 0, replayed: false });
    expect(first.body.matched).to.equal(first.body.lines);
    expect(first.body.lines).to.equal(batch.lines);

    // Each payment's own history records its settlement (the settler → RecordSettlement).
    const settledFull = await waitFor(
      async () => {
        const s = await settlementsOf(full.id);
        return s.length === 1 && s;
      },
      { timeoutMs: 15_000, what: "the capture's settlement on the payment" },
    );
    expect(settledFull[0]).to.deep.include({
      type: "capture",
      psp: "acme",
      amount: 10_000,
      report_id: batch.report_id,
    });
    expect(settledFull[0]!.fee).to.be.greaterThan(0);
    expect(settledFull[0]!.net).to.equal(10_000 - settledFull[0]!.fee);
    const refundSettled = await waitFor(
      async () => {
        const s = await settlementsOf(refunded.id);
        return s.length === 2 && s;
      },
      { timeoutMs: 15_000, what: "capture and refund settlements" },
    );
    expect(refundSettled.map((s) => s.type).sort()).to.deep.equal(["capture", "refund"]);
    expect((await settlementsOf(partial.id))[0]).to.deep.include({ amount: 6_000 });

    // The same report again changes nothing; the same id with other content is refused.
    const again = await upload("acme", batch.csv, batch.report_id);
    expect(again.body).to.deep.include({
      replayed: true,
      lines: first.body.lines,
      matched: first.body.matched,
    });
    const altered = await upload("acme", `${batch.csv}\n`, batch.report_id);
    expect(altered.status).to.equal(409);
    expect(altered.body.error?.code).to.equal("report_conflict");

    // The ledger is fed by three followers (the payments' events, the report's records, the
    // matching): read it once all three have caught up, not mid-way.
    await platform.readModels!.caughtUp("payments");
    await platform.readModels!.caughtUp("settlement");
    await platform.readModels!.caughtUp("reconciliation");
    const tb = await trial();
    expect(tb.balanced).to.equal(true);
    const receivable = tb.accounts.find((a) => a.account === "psp:acme:receivable" && a.currency === "EUR");
    // Everything captured and refunded at acme was settled: nothing left to receive.
    expect(receivable?.balance ?? 0).to.equal(0);
    expect(await exceptions("&status=open")).to.have.length(0);
  });

  it("raises exactly the injected discrepancies at bolt, and operators resolve them", async () => {
    let boltManual = "";
    expect((await platform.ops.post("/ops/psps/acme/out", { reason: "settlement e2e" })).status).to.equal(
      200,
    );
    try {
      for (let i = 0; i < 8; i++) expect((await pay(1_000 + i * 100)).psp).to.equal("bolt");
      // A partial capture and a refund at bolt too; they come after the eight, so they stay clean.
      const manual = await pay(9_000, "manual");
      expect(manual.psp).to.equal("bolt");
      expect((await merchant().post(`/v1/payments/${manual.id}/capture`, { amount: 7_000 })).status).to.equal(
        200,
      );
      expect((await merchant().post(`/v1/payments/${manual.id}/refunds`, { amount: 1_500 })).status).to.equal(
        200,
      );
      boltManual = manual.id;
    } finally {
      await platform.ops.post("/ops/psps/acme/in");
    }
    const batch = await close("bolt", {
      drop: 1,
      duplicate: 1,
      fee_off: 1,
      amount_off: 1,
      unknown: 1,
      defer: 1,
    });
    const res = await upload("bolt", batch.csv, batch.report_id);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    const expected = new Map([
      ["duplicate", "duplicate"],
      ["fee_off", "fee_variance"],
      ["amount_off", "amount_mismatch"],
      ["unknown", "unknown"],
    ]);
    const open = await exceptions("&status=open&psp=bolt");
    expect(open.map((x) => x.kind).sort()).to.deep.equal([...expected.values()].sort());
    expect(res.body.exceptions).to.equal(4);
    for (const inj of batch.injected.filter((i) => expected.has(i.kind))) {
      const x = open.find((e) => e.kind === expected.get(inj.kind));
      expect(x?.detail, inj.kind).to.be.a("string");
    }

    // The dropped and the deferred capture are in no report: the sweep (0 days here) names them.
    await platform.readModels!.sweepMissing();
    await platform.readModels!.caughtUp("reconciliation");
    const missing = await exceptions("&status=open&kind=missing&psp=bolt");
    const missingRefs = new Set(
      batch.injected.filter((i) => i.kind === "drop" || i.kind === "defer").map((i) => i.psp_reference),
    );
    expect(missing.length).to.equal(missingRefs.size);

    const byKind = (k: string) => open.find((x) => x.kind === k)!;
    const resolve = (id: string, body: unknown) =>
      platform.ops.post<{ status: string; amount: number }>(
        `/ops/reconciliation/exceptions/${encodeURIComponent(id)}/resolve`,
        body,
      );
    const accepted = await resolve(byKind("amount_mismatch").id, {
      resolution: "accept",
      reason: "PSP confirmed the amount",
    });
    expect(accepted.status, JSON.stringify(accepted.body)).to.equal(200);
    expect(accepted.body.status).to.equal("resolved");
    expect(accepted.body.amount).to.be.greaterThan(0);
    expect(
      (await resolve(byKind("amount_mismatch").id, { resolution: "write_off", reason: "again" })).status,
    ).to.equal(409);
    expect(
      (await resolve(byKind("unknown").id, { resolution: "write_off", reason: "not ours" })).status,
    ).to.equal(200);
    expect(
      (await resolve(byKind("duplicate").id, { resolution: "accept", reason: "to be returned" })).status,
    ).to.equal(200);
    expect(
      (await resolve(byKind("fee_variance").id, { resolution: "accept", reason: "new tariff" })).status,
    ).to.equal(200);
    expect((await resolve("x_nope", { resolution: "accept", reason: "r" })).status).to.equal(404);
    expect((await resolve(missing[0]!.id, { resolution: "bogus", reason: "r" })).status).to.equal(400);
    expect((await resolve(missing[0]!.id, { resolution: "accept" })).status).to.equal(400);
    expect((await resolve(missing[0]!.id, { resolution: "link", reason: "r" })).status).to.equal(422);

    // The amount-mismatch line, accepted, settles its payment as the PSP reported it.
    const manualSettled = await waitFor(
      async () => {
        const s = await settlementsOf(boltManual);
        return s.length === 2 && s;
      },
      { timeoutMs: 15_000, what: "bolt's partial capture and refund settled" },
    );
    expect(manualSettled.map((s) => [s.type, s.amount]).sort()).to.deep.equal([
      ["capture", 7_000],
      ["refund", 1_500],
    ]);
    const mismatch = open.find((x) => x.kind === "amount_mismatch")!;
    await waitFor(async () => (await settlementsOf(mismatch.payment_id!)).length === 1, {
      timeoutMs: 15_000,
      what: "the accepted line's settlement on its payment",
    });
    await platform.readModels!.caughtUp("payments");
    await platform.readModels!.caughtUp("reconciliation");
    expect((await trial()).balanced).to.equal(true);
    expect(await exceptions("&status=open&psp=bolt&kind=amount_mismatch")).to.have.length(0);

    // Every resolution is in the append-only audit trail, with the operator and the reason.
    type Audit = {
      entries: Array<{ actor: string; action: string; fields: { reason?: string; error?: string } }>;
    };
    const trail = await platform.ops.get<Audit>("/ops/audit?action=reconciliation");
    expect(trail.status).to.equal(200);
    expect(trail.body.entries.map((e) => e.fields.reason)).to.include.members([
      "PSP confirmed the amount",
      "not ours",
    ]);
    expect(
      trail.body.entries.every((e) => e.actor === "ops" && e.action.startsWith("reconciliation.resolve")),
    ).to.equal(true);
    // Each is recorded before it is made; the refused ones then as failed, with the refusal's code.
    expect(
      trail.body.entries
        .filter((e) => e.action === "reconciliation.resolve.failed")
        .map((e) => e.fields.error),
    ).to.have.members(["exception_already_resolved", "exception_not_found", "link_target_invalid"]);
    const none = await platform.ops.get<Audit>("/ops/audit?actor=nobody");
    expect(none.body.entries).to.have.length(0);
    expect((await platform.ops.get("/ops/audit?from=yesterday")).status).to.equal(400);

    const variance = await platform.ops.get<{
      rows: Array<{ psp: string; variance: number; lines: number }>;
    }>(`/ops/settlements/fee-variance?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&psp=bolt`);
    expect(variance.status).to.equal(200);
    expect(variance.body.rows.reduce((n, r) => n + r.lines, 0)).to.be.greaterThan(0);
  });

  it("exports the journal with a trailer that verifies, in csv and jsonl", async () => {
    for (const format of ["csv", "jsonl"]) {
      const res = await fetch(
        `${platform.url}/ops/ledger/export?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&format=${format}`,
        { headers: { authorization: `Bearer ${platform.env.SWITCHYARD_OPERATOR_KEYS!.split(":")[1]}` } },
      );
      expect(res.status).to.equal(200);
      const text = await res.text();
      const verdict = await verifyExport(linesOf(Readable.from([text])));
      expect(verdict.problems, format).to.deep.equal([]);
      expect(verdict.ok).to.equal(true);
      expect(verdict.lines).to.be.greaterThan(4);
      // Any byte changed before the trailer breaks its digest.
      const tampered = await verifyExport(linesOf(Readable.from([text.replace("EUR", "EUX")])));
      expect(tampered.ok, format).to.equal(false);
    }
  });

  it("exports with npm run ledger:export, and audit:verify checks the file and names an edit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ledger-export-"));
    try {
      const out = join(dir, "ledger.csv");
      const exported = await run("scripts/ledger-export.ts", [
        "--from",
        "2000-01-01T00:00:00Z",
        "--to",
        "2100-01-01T00:00:00Z",
        "--out",
        out,
      ]);
      expect(exported.code, exported.stderr).to.equal(0);
      const audit = await run("scripts/audit-verify.ts", ["--ledger-export", out]);
      expect(audit.code, audit.stdout + audit.stderr).to.equal(0);
      expect(audit.stdout).to.include(`ledger export ${out}: intact`);
      writeFileSync(out, readFileSync(out, "utf8").replace("EUR", "EUX"));
      const broken = await run("scripts/audit-verify.ts", ["--ledger-export", out]);
      expect(broken.code).to.equal(1);
      expect(broken.stdout).to.include("BREAK ledger-export");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rebuilds every read model from the streams into the same journal and balances", async () => {
    const ledger = async () => {
      const res = await fetch(
        `${platform.url}/ops/ledger/export?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&format=jsonl`,
        { headers: { authorization: `Bearer ${platform.env.SWITCHYARD_OPERATOR_KEYS!.split(":")[1]}` } },
      );
      // Entries by id: a rebuild may insert them in another order; the trailer's digest follows the order.
      const lines = (await res.text()).trim().split("\n").slice(1, -1);
      return lines.sort();
    };
    await platform.readModels!.caughtUp("payments");
    await platform.readModels!.caughtUp("settlement");
    await platform.readModels!.caughtUp("reconciliation");
    const before = await ledger();
    const tb = await trial();
    expect(before.length).to.be.greaterThan(10);
    const rebuilt = await platform.ops.post("/ops/read-models/all/rebuild");
    expect(rebuilt.status).to.equal(202);
    expect((await platform.ops.post("/ops/read-models/nope/rebuild")).status).to.equal(404);
    await waitFor(async () => JSON.stringify(await ledger()) === JSON.stringify(before), {
      timeoutMs: 20_000,
      what: "the rebuilt journal to equal the live one",
    });
    await waitFor(async () => (await exceptions()).length > 0, {
      timeoutMs: 10_000,
      what: "exceptions rebuilt",
    });
    expect((await trial()).accounts).to.deep.equal(tb.accounts);
  });

  const run = (script: string, args: string[]) => runScript(script, args, platform.env);

  it("takes the good lines of a report with bad ones, and refuses what is not a report", async () => {
    await pay(4_200);
    const batch = await close("acme");
    const rows = batch.csv.trimEnd().split("\n");
    // A payment that never happened here is an exception, a line with a broken amount is rejected.
    const bad = [...rows, rows[1]!.replace(/,[0-9.-]+,/, ",12.3.4,")].join("\n");
    const res = await upload("acme", bad, `${batch.report_id}-edited`);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.rejected).to.equal(1);
    expect(res.body.rejects).to.have.length(1);
    expect(res.body.rejects[0]!.line_no).to.equal(rows.length + 1);
    expect((await upload("acme", "not,a,report\n1,2,3\n")).body.error?.code).to.equal(
      "report_format_invalid",
    );
    expect((await upload("nopsp", batch.csv)).status).to.equal(404);
    expect((await upload("acme", batch.csv, undefined, "text/plain")).status).to.equal(415);
    expect((await upload("acme", batch.csv, "bad id with spaces")).status).to.equal(400);
    const merchantTry = await fetch(`${platform.url}/ops/settlements/acme/reports`, {
      method: "POST",
      headers: { authorization: `Bearer ${platform.merchants[0]!.key}`, "content-type": "text/csv" },
      body: batch.csv,
    });
    expect(merchantTry.status).to.equal(403);
  });
});
