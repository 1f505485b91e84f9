// Zero- and three-decimal currencies end to end: one payment life in JPY (no minor unit) and one in
// KWD (three decimals) through the public API — authorized at bolt (the only PSP that takes them),
// partly captured, partly refunded — then bolt's settlement report with the currency's own decimals
// (JPY 12340, KWD 12.345), reconciliation matching every line, and the ledger export in exact minor
// units that verifies. Walks like settlement.e2e.spec.ts.
import { Readable } from "node:stream";
import { expect } from "chai";
import { linesOf, parseCsvRow, verifyExport } from "../../actors/ledger/core/export.ts";
import { paymentBody, startTestPlatform, testEnv, type TestPlatform } from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";

type Closed = { report_id: string; url: string; lines: number };
type Ingest = {
  lines: number;
  matched: number;
  exceptions: number;
  rejected: number;
  rejects: Array<{ line_no: number; reason: string }>;
};
type Exc = { kind: string; payment_id: string | null; detail: string };
type Balance = { balanced: boolean; accounts: Array<{ account: string; currency: string; balance: number }> };

/** Each currency's amounts in minor units, and how bolt's report writes the capture and the refund. */
const LIVES = [
  { currency: "JPY", amount: 15_000, capture: 12_340, refund: 2_340, written: ["12340", "2340"] },
  { currency: "KWD", amount: 15_000, capture: 12_345, refund: 2_345, written: ["12.345", "2.345"] },
] as const;

describe("zero- and three-decimal currencies, end to end (e2e)", function () {
  this.timeout(90_000);
  let platform: TestPlatform;

  before(async () => {
    platform = await startTestPlatform({ env: testEnv({ SWITCHYARD_SETTLEMENT_MISSING_DAYS: "0" }) });
  });
  after(async () => platform?.cleanup());

  const merchant = () => platform.api(platform.merchants[0]!);
  const operatorKey = () => platform.env.SWITCHYARD_OPERATOR_KEYS!.split(":")[1]!;
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

  for (const life of LIVES) {
    it(`lives a ${life.currency} payment at bolt: authorize, partial capture, refund, settle, reconcile, export`, async () => {
      const { currency } = life;
      const created = await merchant().post(
        "/v1/payments",
        paymentBody({ amount: life.amount, currency, capture: "manual" }),
      );
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      const p = created.body;
      expect(p).to.include({ status: "authorized", psp: "bolt", amount: life.amount, currency });
      expect(p.routing?.rule_id).to.equal("jpy-kwd-bolt");

      const captured = await merchant().post(`/v1/payments/${p.id}/capture`, { amount: life.capture });
      expect(captured.status, JSON.stringify(captured.body)).to.equal(200);
      expect(captured.body).to.include({ status: "captured", captured_amount: life.capture });
      const refunded = await merchant().post(`/v1/payments/${p.id}/refunds`, { amount: life.refund });
      expect(refunded.status, JSON.stringify(refunded.body)).to.equal(200);
      expect(refunded.body).to.include({ status: "partially_refunded", refunded_amount: life.refund });
      // The sandbox PSP holds exactly these minor units.
      const { charges } = await sandbox<{
        charges: Array<{ amount: number; capturedAmount: number; refundedAmount: number; currency: string }>;
      }>(`/_sandbox/charges?reference=${p.id}`);
      expect(charges.map((c) => [c.currency, c.amount, c.capturedAmount, c.refundedAmount])).to.deep.equal([
        [currency, life.amount, life.capture, life.refund],
      ]);

      // bolt's settlement report writes the currency's own decimals.
      await platform.readModels!.caughtUp("payments");
      const closed = await sandbox<Closed>("/_sandbox/psps/bolt/settlements", {});
      const csv = await (await fetch(`${platform.sandbox!.url}${closed.url}`)).text();
      const rows = csv
        .trimEnd()
        .split("\r\n")
        .map((l) => l.split(","));
      const header = rows[0]!;
      const col = (name: string) => header.indexOf(name);
      const mine = rows.filter((r) => r[col("Merchant Reference")] === p.id);
      const cell = (type: string, name: string) => mine.find((r) => r[col("Type")] === type)?.[col(name)];
      expect(cell("Settled", "Gross Currency")).to.equal(currency);
      expect(cell("Settled", "Gross Credit (GC)")).to.equal(life.written[0]);
      expect(cell("Refunded", "Gross Debit (GC)")).to.equal(life.written[1]);

      const res = await fetch(
        `${platform.url}/ops/settlements/bolt/reports?report_id=${encodeURIComponent(closed.report_id)}`,
        {
          method: "POST",
          headers: { authorization: `Bearer ${operatorKey()}`, "content-type": "text/csv" },
          body: csv,
        },
      );
      const ingest = (await res.json()) as Ingest;
      expect(res.status, JSON.stringify(ingest)).to.equal(200);
      expect(ingest).to.deep.include({ rejected: 0, exceptions: 0 });
      expect(ingest.matched).to.equal(ingest.lines);

      // The payment records both settlements, in its own minor units.
      const settled = await waitFor(
        async () => {
          const s = (await merchant().get(`/v1/payments/${p.id}`)).body.settlements ?? [];
          return s.length === 2 && s;
        },
        { timeoutMs: 15_000, what: `the ${currency} capture and refund settled` },
      );
      const capture = settled.find((s) => s.type === "capture")!;
      const refund = settled.find((s) => s.type === "refund")!;
      expect(capture).to.include({ psp: "bolt", amount: life.capture });
      expect(capture.net).to.equal(life.capture - capture.fee);
      expect(refund).to.include({ psp: "bolt", amount: life.refund });
      await platform.readModels!.caughtUp("reconciliation");
      const open = await platform.ops.get<{ exceptions: Exc[] }>(
        "/ops/reconciliation/exceptions?status=open&psp=bolt&limit=500",
      );
      expect(open.body.exceptions.filter((x) => x.payment_id === p.id)).to.deep.equal([]);

      // The ledger balances per currency and nothing is left to receive from bolt in this currency.
      await platform.readModels!.caughtUp("payments");
      const tb = (await platform.ops.get<Balance>("/ops/ledger/trial-balance")).body;
      expect(tb.balanced).to.equal(true);
      const receivable = tb.accounts.find(
        (a) => a.account === "psp:bolt:receivable" && a.currency === currency,
      );
      expect(receivable?.balance ?? 0).to.equal(0);

      // The export carries the exact minor units, in the payment's currency, and verifies.
      const exported = await fetch(
        `${platform.url}/ops/ledger/export?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&format=csv`,
        { headers: { authorization: `Bearer ${operatorKey()}` } },
      );
      expect(exported.status).to.equal(200);
      const text = await exported.text();
      const verdict = await verifyExport(linesOf(Readable.from([text])));
      expect(verdict.problems).to.deep.equal([]);
      const lines = text
        .trimEnd()
        .split("\n")
        .slice(1, -1)
        .map((l) => parseCsvRow(l)!);
      const ofPayment = lines.filter((r) => r[3] === p.id);
      expect(ofPayment.map((r) => r[4])).to.satisfy(
        (cs: string[]) => cs.length > 0 && cs.every((c) => c === currency),
      );
      const amountsOf = (kind: string) =>
        ofPayment
          .filter((r) => r[2] === kind)
          .flatMap((r) => [Number(r[6]), Number(r[7])])
          .filter((n) => n > 0);
      expect(amountsOf("capture")).to.deep.equal([life.capture, life.capture]);
      expect(amountsOf("refund")).to.deep.equal([life.refund, life.refund]);
      const trailer = JSON.parse(parseCsvRow(text.trimEnd().split("\n").at(-1)!)![1]!) as {
        totals: Record<string, { debit: string; credit: string }>;
      };
      expect(trailer.totals[currency]?.debit).to.equal(trailer.totals[currency]?.credit);
    });
  }
});
