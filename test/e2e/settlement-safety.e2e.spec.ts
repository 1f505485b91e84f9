// Settlement reports that must not hurt the ledger (issue 16): bytes PostgreSQL cannot store, the
// same report twice, lines repeated from an earlier report, over-long fields, amounts past any sane
// bound, formula cells reaching the ledger export, and the fees of partial captures. Over the real
// upload endpoint, with the sandbox PSPs' own reports.
import { Readable } from "node:stream";
import { expect } from "chai";
import { linesOf, parseCsvRow, verifyExport } from "../../actors/ledger/core/export.ts";
import { ACME_COLUMNS } from "../../actors/psp/settlement/acme.ts";
import postgres from "postgres";
import { DATABASE_URL } from "../support/infra.ts";
import { paymentBody, startTestPlatform, testEnv, type TestPlatform } from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";

type Closed = { report_id: string; url: string; lines: number; csv: string };
type Ingest = {
  report_id: string;
  lines: number;
  matched: number;
  exceptions: number;
  rejected: number;
  replayed: boolean;
  rejects: Array<{ line_no: number; reason: string }>;
  error?: { code: string; message: string; details: Record<string, unknown> };
};
type Balance = {
  balanced: boolean;
  accounts: Array<{ account: string; currency: string; debit: number; credit: number; balance: number }>;
};
type Exc = { id: string; kind: string; status: string; payment_id: string | null; detail: string };

const HEADER = ACME_COLUMNS.join(",");
let txn = 0;
/** An acme adjustment row: `gross` and `fee` as major-unit decimals, net = gross − fee. */
function adjustment(gross: string, reference: string, fee = "0.00"): string {
  const net = ((Math.round(Number(gross) * 100) - Math.round(Number(fee) * 100)) / 100).toFixed(2);
  txn++;
  const id = `txn_safety_${Date.now().toString(36)}_${txn}`;
  const ref = /[",\n]/.test(reference) ? `"${reference.replaceAll('"', '""')}"` : reference;
  return `${id},2026-12-01 10:00:00,2026-12-03 00:00:00,eur,${gross},${fee},${net},adjustment,,${ref},po_safety`;
}

describe("settlement reports that must not hurt the ledger (e2e)", function () {
  this.timeout(120_000);
  let platform: TestPlatform;

  before(async () => {
    platform = await startTestPlatform({ env: testEnv({}) });
  });
  after(async () => platform?.cleanup());

  const merchant = () => platform.api(platform.merchants[0]!);
  const operatorKey = () => platform.env.SWITCHYARD_OPERATOR_KEYS!.split(":")[1]!;
  async function pay(amount: number, capture: "automatic" | "manual" = "automatic") {
    const res = await merchant().post("/v1/payments", paymentBody({ amount, capture, currency: "EUR" }));
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body as { id: string; psp: string };
  }
  async function close(psp: string, discrepancies?: Record<string, number>): Promise<Closed> {
    await platform.readModels!.caughtUp("payments");
    const res = await fetch(`${platform.sandbox!.url}/_sandbox/psps/${psp}/settlements`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(discrepancies ? { discrepancies } : {}),
    });
    expect(res.status).to.be.oneOf([200, 201]);
    const closed = (await res.json()) as Omit<Closed, "csv">;
    const csv = await (await fetch(`${platform.sandbox!.url}${closed.url}`)).text();
    return { ...closed, csv };
  }
  async function upload(psp: string, csv: string | Uint8Array, reportId?: string) {
    const q = reportId ? `?report_id=${encodeURIComponent(reportId)}` : "";
    const res = await fetch(`${platform.url}/ops/settlements/${psp}/reports${q}`, {
      method: "POST",
      headers: { authorization: `Bearer ${operatorKey()}`, "content-type": "text/csv" },
      body: csv,
    });
    return { status: res.status, body: (await res.json()) as Ingest };
  }
  const trial = async () => {
    const res = await platform.ops.get<Balance>("/ops/ledger/trial-balance");
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body;
  };
  const reports = async () =>
    (await platform.ops.get<{ reports: Array<{ report_id: string }> }>("/ops/settlements/reports?psp=acme"))
      .body.reports;
  const exportCsv = async () => {
    const res = await fetch(
      `${platform.url}/ops/ledger/export?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&format=csv`,
      { headers: { authorization: `Bearer ${operatorKey()}` } },
    );
    expect(res.status).to.equal(200);
    return res.text();
  };
  const exceptions = async (query: string) =>
    (await platform.ops.get<{ exceptions: Exc[] }>(`/ops/reconciliation/exceptions?limit=500${query}`)).body
      .exceptions;
  const settlementsOf = async (id: string) =>
    ((await merchant().get(`/v1/payments/${id}`)).body.settlements ?? []) as Array<{
      type: string;
      amount: number;
      fee: number;
    }>;

  it("refuses a report with a NUL, a surrogate or bytes that are not UTF-8, naming line and column", async () => {
    const ok = adjustment("0.01", "fine");
    const nul = `${HEADER}\n${ok}\n${adjustment("0.02", "a\u0000b")}\n`;
    const res = await upload("acme", nul, "safety-nul");
    expect(res.status, JSON.stringify(res.body)).to.equal(400);
    expect(res.body.error?.code).to.equal("report_format_invalid");
    expect(res.body.error?.details).to.deep.include({
      line: 3,
      column: 10,
      column_name: "payment_reference",
    });
    expect(res.body.error?.message).to.match(/line 3, column 10 \(payment_reference\): a NUL/);

    const enc = new TextEncoder();
    // Line 2's payment_reference is "a", the bad bytes, "b".
    const row = adjustment("0.03", "x").replace(/x,po_safety$/, "a");
    const bytes = (middle: number[]) =>
      new Uint8Array([...enc.encode(`${HEADER}\n${row}`), ...middle, ...enc.encode(`b,po_safety\n`)]);
    const surrogate = await upload("acme", bytes([0xed, 0xa0, 0x80]), "safety-surrogate");
    expect(surrogate.status, JSON.stringify(surrogate.body)).to.equal(400);
    expect(surrogate.body.error?.message).to.include(
      "line 2, column 10 (payment_reference): an unpaired surrogate",
    );
    const latin1 = await upload("acme", bytes([0xe9]), "safety-latin1");
    expect(latin1.status).to.equal(400);
    expect(latin1.body.error?.message).to.include("line 2, column 10 (payment_reference): invalid UTF-8");

    // Nothing of them was taken, and the settlement read model follows on with the next report.
    const ids = (await reports()).map((r) => r.report_id);
    expect(ids).to.not.include.members(["safety-nul", "safety-surrogate", "safety-latin1"]);
    const next = await upload("acme", `${HEADER}\n${adjustment("0.04", "after")}\n`, "safety-after-nul");
    expect(next.status, JSON.stringify(next.body)).to.equal(200);
    await platform.readModels!.caughtUp("settlement");
    expect((await reports()).map((r) => r.report_id)).to.include("safety-after-nul");
  });

  it("books a report once: the same content under another id is a replay naming the first", async () => {
    await pay(4_100);
    await pay(4_200);
    const batch = await close("acme");
    const first = await upload("acme", batch.csv, batch.report_id);
    expect(first.status, JSON.stringify(first.body)).to.equal(200);
    expect(first.body.replayed).to.equal(false);
    await platform.readModels!.caughtUp("payments");
    await platform.readModels!.caughtUp("settlement");
    const before = await trial();

    const again = await upload("acme", batch.csv, `${batch.report_id}-again`);
    expect(again.status, JSON.stringify(again.body)).to.equal(200);
    expect(again.body).to.deep.include({ replayed: true, report_id: batch.report_id });
    expect((await reports()).map((r) => r.report_id)).to.not.include(`${batch.report_id}-again`);

    // A report repeating the first one's lines (its own content differs: one new adjustment) books
    // the new line only; the repeated ones are rejected by their PSP line id.
    const rows = batch.csv.trimEnd().split("\n");
    const repeated = [...rows, adjustment("1.00", "new")].join("\n") + "\n";
    const second = await upload("acme", repeated, `${batch.report_id}-repeated`);
    expect(second.status, JSON.stringify(second.body)).to.equal(200);
    expect(second.body.rejected).to.equal(rows.length - 1);
    expect(
      second.body.rejects.every((r) => r.reason.includes(`taken from report ${batch.report_id}`)),
    ).to.equal(true);
    expect(second.body.lines).to.equal(1);
    await platform.readModels!.caughtUp("payments");
    await platform.readModels!.caughtUp("settlement");
    const after = await trial();
    const fees = (b: Balance) =>
      b.accounts.find((a) => a.account === "psp:acme:fees" && a.currency === "EUR");
    const payouts = (b: Balance) =>
      b.accounts.find((a) => a.account === "bank:acme:payouts" && a.currency === "EUR");
    expect(fees(after)?.balance).to.equal(fees(before)?.balance);
    expect(payouts(after)?.balance).to.equal(payouts(before)?.balance);
    expect(after.balanced).to.equal(true);
  });

  it("books the same content uploaded under several ids at the same moment once", async () => {
    await pay(4_300);
    await pay(4_400);
    const batch = await close("acme");
    await platform.readModels!.caughtUp("settlement");
    const before = await trial();
    const ids = [1, 2, 3, 4].map((n) => `${batch.report_id}-race-${n}`);
    const answers = await Promise.all(ids.map((id) => upload("acme", batch.csv, id)));
    // One takes it in; each other one is either told it is a replay of that one, or refused while
    // that one is still being taken in (409 report_conflict: retry, and it answers the replay).
    const taken = answers.filter((a) => a.status === 200 && !a.body.replayed);
    expect(taken, JSON.stringify(answers.map((a) => [a.status, a.body.error?.code]))).to.have.length(1);
    for (const a of answers.filter((x) => x !== taken[0])) {
      if (a.status === 200)
        expect(a.body).to.deep.include({ replayed: true, report_id: taken[0]!.body.report_id });
      else expect([a.status, a.body.error?.code]).to.deep.equal([409, "report_conflict"]);
    }
    await platform.readModels!.caughtUp("payments");
    await platform.readModels!.caughtUp("settlement");
    const after = await trial();
    const payouts = (b: Balance) =>
      b.accounts.find((a) => a.account === "bank:acme:payouts" && a.currency === "EUR")?.balance ?? 0;
    const payoutLines = batch.csv.split("\n").filter((l) => l.includes(",payout,"));
    const payout = payoutLines.reduce(
      (sum, l) => sum + Math.abs(Math.round(Number(l.split(",")[4]) * 100)),
      0,
    );
    expect(payout).to.be.greaterThan(0);
    expect(payouts(after) - payouts(before), "payouts booked").to.equal(payout);
    expect((await reports()).filter((r) => ids.includes(r.report_id))).to.have.length(1);
  });

  it("takes a big report of valid lines in chunks sized by bytes, and refuses an over-long field by line", async () => {
    const long = "r".repeat(3_500);
    const rows = Array.from({ length: 450 }, (_, i) => adjustment("0.01", `${long}${i}`));
    const big = await upload("acme", `${HEADER}\n${rows.join("\n")}\n`, "safety-big");
    expect(big.status, JSON.stringify(big.body).slice(0, 500)).to.equal(200);
    expect(big.body.lines).to.equal(450);

    const huge = [adjustment("0.01", "short"), adjustment("0.01", "h".repeat(300 * 1024))];
    const refused = await upload("acme", `${HEADER}\n${huge.join("\n")}\n`, "safety-huge");
    expect(refused.status, JSON.stringify(refused.body).slice(0, 500)).to.equal(400);
    expect(refused.body.error?.details).to.deep.include({ line: 3, column: 10 });
    expect(refused.body.error?.message).to.include("a field longer than");
  });

  it("keeps formulas out of the ledger export and only payment ids in its payment_id column", async () => {
    const formulas = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\tx"];
    const res = await upload(
      "acme",
      `${HEADER}\n${formulas.map((f) => adjustment("0.05", f)).join("\n")}\n`,
      "safety-formulas",
    );
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    await platform.readModels!.caughtUp("settlement");
    const text = await exportCsv();
    const rows = text
      .trimEnd()
      .split("\n")
      .slice(1, -1)
      .map((r) => parseCsvRow(r)!);
    const ours = rows.filter((r) => r[8]!.includes("safety-formulas"));
    expect(ours.length).to.be.greaterThan(0);
    for (const cells of rows)
      for (const cell of cells) expect(cell, cells.join(",")).to.not.match(/^[=+\-@\t\r]/);
    for (const cells of ours) expect(cells[3]).to.equal("");
    expect((await verifyExport(linesOf(Readable.from([text])))).ok).to.equal(true);
  });

  it("expects a partial capture's fee from the routing-time fee terms, and settles a fee variance", async () => {
    const partial = await pay(10_000, "manual");
    expect(partial.psp).to.equal("acme");
    const captured = await merchant().post(`/v1/payments/${partial.id}/capture`, { amount: 1_000 });
    expect(captured.status, JSON.stringify(captured.body)).to.equal(200);
    const batch = await close("acme");
    const res = await upload("acme", batch.csv, batch.report_id);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(await exceptions(`&status=open&kind=fee_variance`)).to.have.length(0);
    expect(res.body.exceptions).to.equal(0);

    const off = await pay(5_000);
    const varied = await close("acme", { fee_off: 1 });
    const second = await upload("acme", varied.csv, varied.report_id);
    expect(second.body.exceptions).to.equal(1);
    const open = await exceptions(`&status=open&kind=fee_variance`);
    expect(open.map((x) => x.payment_id)).to.deep.equal([off.id]);
    // The money did settle: the payment records its settlement, with the fee charged.
    const settled = await waitFor(
      async () => {
        const s = await settlementsOf(off.id);
        return s.length === 1 && s;
      },
      { timeoutMs: 15_000, what: "the fee-variance line's settlement on its payment" },
    );
    expect(settled[0]).to.deep.include({ type: "capture", amount: 5_000 });
    const resolved = await platform.ops.post<{ status: string }>(
      `/ops/reconciliation/exceptions/${encodeURIComponent(open[0]!.id)}/resolve`,
      { resolution: "write_off", reason: "the PSP's error, claimed back" },
    );
    expect(resolved.status, JSON.stringify(resolved.body)).to.equal(200);
    await platform.readModels!.caughtUp("payments");
    await platform.readModels!.caughtUp("reconciliation");
    const tb = await trial();
    expect(tb.balanced).to.equal(true);
    const receivable = tb.accounts.find((a) => a.account === "psp:acme:receivable" && a.currency === "EUR");
    // Settled once: the write-off moved the fee difference only, not the line a second time.
    expect(receivable?.balance ?? 0).to.equal(0);
  });

  it("refuses a line past the sanity bound, naming it, and the trial balance stays answerable", async () => {
    const rows = [
      adjustment("1.00", "ok"),
      adjustment("90071992547409.91", "big"),
      adjustment("90071992547409.91", "big"),
    ];
    const res = await upload("acme", `${HEADER}\n${rows.join("\n")}\n`, "safety-bound");
    expect(res.status, JSON.stringify(res.body)).to.equal(400);
    expect(res.body.error?.code).to.equal("report_format_invalid");
    expect(res.body.error?.message).to.match(/^line 3 \(amount\)/);
    expect((await reports()).map((r) => r.report_id)).to.not.include("safety-bound");
    await platform.readModels!.caughtUp("settlement");
    expect((await trial()).balanced).to.equal(true);
  });

  it("sums the trial balance exactly past 2^53, and names a sum it cannot give as a number", async () => {
    // Two postings of 2^53 − 1 on one account: written straight into the read model, as no report
    // can any more (the bound above). The sum is past what a JSON number holds exactly.
    const sql = postgres(platform.env.DATABASE_URL ?? DATABASE_URL, { max: 1, onnotice: () => undefined });
    const schema = `sy_${platform.env.SWITCHYARD_PREFIX!.toLowerCase()}`;
    const max = "9007199254740991";
    try {
      await sql.unsafe(
        `insert into ${schema}.ledger_entries (id, at, kind, payment_id, currency, description, sources)
         values ('safety:huge', '2026-12-01T10:00:00Z', 'adjustment', null, 'EUR', 'huge', '{}')`,
      );
      await sql.unsafe(
        `insert into ${schema}.ledger_postings (entry_id, n, account, currency, debit, credit, at) values
         ('safety:huge', 0, 'psp:acme:suspense', 'EUR', ${max}, 0, '2026-12-01T10:00:00Z'),
         ('safety:huge', 1, 'psp:acme:suspense', 'EUR', ${max}, 0, '2026-12-01T10:00:00Z'),
         ('safety:huge', 2, 'writeoff', 'EUR', 0, ${max}, '2026-12-01T10:00:00Z'),
         ('safety:huge', 3, 'writeoff', 'EUR', 0, ${max}, '2026-12-01T10:00:00Z')`,
      );
      const res = await platform.ops.get<{ error?: { code: string; message: string } }>(
        "/ops/ledger/trial-balance",
      );
      expect(res.status, JSON.stringify(res.body)).to.equal(500);
      expect(res.body.error?.code).to.equal("ledger_out_of_range");
      expect(res.body.error?.message).to.include("psp:acme:suspense in EUR is 18014398509481982");
    } finally {
      await sql.unsafe(`delete from ${schema}.ledger_entries where id = 'safety:huge'`);
      await sql.end({ timeout: 1 });
    }
    expect((await trial()).balanced).to.equal(true);
  });
});
