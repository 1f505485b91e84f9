// The settlement report parsers on small hand-written reports: every kind mapped, exact minor units,
// bad lines rejected with their line numbers while the rest is taken, a wrong header refused whole.
import { Readable } from "node:stream";
import { expect } from "chai";
import fc from "fast-check";
import { CURRENCY_EXPONENTS, MAX_AMOUNT, toDecimalString } from "../../actors/payment/core/money.ts";
import {
  decimalToMinor,
  parseAcmeReport,
  parseBoltReport,
  ReportFormatError,
  settlementParsers,
} from "../../actors/psp/settlement/index.ts";
import { SettlementLine, type ParsedLine } from "../../actors/settlement/core/line.ts";
import {
  MAX_FIELD_BYTES,
  MAX_RECORD_BYTES,
  ReportContentError,
  ReportGuard,
} from "../../actors/psp/settlement/guard.ts";

const ACME_HEADER =
  "balance_transaction_id,created_utc,available_on_utc,currency,gross,fee,net,reporting_category,source_id,payment_reference,payout_id";
const BOLT_HEADER =
  "Merchant Account,Psp Reference,Merchant Reference,Payment Method,Creation Date,TimeZone,Type,Modification Reference,Gross Currency,Gross Debit (GC),Gross Credit (GC),Exchange Rate,Net Currency,Net Debit (NC),Net Credit (NC),Commission (NC),Markup (NC),Scheme Fees (NC),Interchange (NC),Batch Number";

async function collect(lines: AsyncIterable<ParsedLine>) {
  const ok: SettlementLine[] = [];
  const rejected: Array<{ lineNo: number; reason: string }> = [];
  for await (const l of lines) {
    if (l.ok) ok.push(l.line);
    else rejected.push(l.rejected);
  }
  return { ok, rejected };
}

/** The text in small chunks, so records and even characters straddle chunk boundaries. */
const chunked = (text: string, size = 7) =>
  Readable.from(
    Array.from({ length: Math.ceil(text.length / size) }, (_, i) => text.slice(i * size, i * size + size)),
  );

describe("decimal strings to minor units", () => {
  it("is exact for currencies with 0, 2 and 3 decimals", () => {
    expect(decimalToMinor("1234", 0)).to.equal(1234);
    expect(decimalToMinor("12.34", 2)).to.equal(1234);
    expect(decimalToMinor("12.3", 2)).to.equal(1230);
    expect(decimalToMinor("12", 2)).to.equal(1200);
    expect(decimalToMinor("0.01", 2)).to.equal(1);
    expect(decimalToMinor("1.234", 3)).to.equal(1234);
    expect(decimalToMinor("0.001", 3)).to.equal(1);
    expect(decimalToMinor("-10.00", 2, true)).to.equal(-1000);
    expect(Object.is(decimalToMinor("-0.00", 2, true), 0)).to.equal(true);
    // Floats would get these wrong: 0.29 * 100 = 28.999999999999996, 1.005 * 1000 = 1004.9999999999999.
    expect(decimalToMinor("0.29", 2)).to.equal(29);
    expect(decimalToMinor("1.005", 3)).to.equal(1005);
    expect(decimalToMinor("90071992547409.91", 2)).to.equal(9007199254740991);
  });

  it("refuses more decimals than the currency has, signs where none belong, and anything not a decimal", () => {
    for (const [value, exponent] of [
      ["12.345", 2],
      ["1.5", 0],
      ["1.2345", 3],
      ["-1.00", 2],
      ["", 2],
      [".5", 2],
      ["5.", 2],
      ["1,00", 2],
      ["1e3", 0],
      [" 1", 0],
      ["+1", 0],
      ["1.2.3", 3],
      ["90071992547409.92", 2],
    ] as const)
      expect(decimalToMinor(value, exponent), `${value} with ${exponent}`).to.be.NaN;
    expect(decimalToMinor("-", 2, true)).to.be.NaN;
  });

  it("reads back every amount the platform writes, in every currency", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: MAX_AMOUNT }),
        fc.constantFrom(...Object.entries(CURRENCY_EXPONENTS)),
        (amount, [currency, exponent]) => {
          expect(decimalToMinor(toDecimalString(amount, currency), exponent)).to.equal(amount);
          expect(decimalToMinor(`-${toDecimalString(amount, currency)}`, exponent, true)).to.equal(-amount);
        },
      ),
    );
  });
});

describe("the acme settlement parser", () => {
  const report = [
    ACME_HEADER,
    "txn_1,2026-12-01 10:00:00,2026-12-03 00:00:00,eur,40.00,1.46,38.54,charge,ch_A,pay_1,po_X",
    "txn_2,2026-12-01 11:00:00,2026-12-03 00:00:00,eur,-10.00,0.00,-10.00,refund,re_B,pay_1,po_X",
    "txn_3,2026-12-01 12:00:00,,jpy,5000,147,4853,charge,ch_C,pay_2,po_X",
    "txn_4,2026-12-01 12:30:00,,kwd,1.234,0.010,1.224,charge,ch_D,pay_3,po_X",
    "txn_5,2026-12-01 13:00:00,,eur,-2.00,0.00,-2.00,adjustment,adj_1,,po_X",
    "txn_6,2026-12-02 00:00:00,,eur,0.00,1.00,-1.00,fee,,,po_X",
    "txn_7,2026-12-02 00:00:00,2026-12-03 00:00:00,eur,-25.54,0.00,-25.54,payout,po_X,,po_X",
  ].join("\n");

  it("maps every reporting category to its kind, with exact amounts, references and times", async () => {
    const { ok, rejected } = await collect(parseAcmeReport(chunked(report), { reportId: "po_X" }));
    expect(rejected).to.deep.equal([]);
    expect(ok.map((l) => [l.kind, l.lineNo, l.amount, l.fee, l.net, l.currency])).to.deep.equal([
      ["capture", 2, 4000, 146, 3854, "EUR"],
      ["refund", 3, 1000, 0, -1000, "EUR"],
      ["capture", 4, 5000, 147, 4853, "JPY"],
      ["capture", 5, 1234, 10, 1224, "KWD"],
      ["adjustment", 6, 200, 0, -200, "EUR"],
      ["fee", 7, 0, 100, -100, "EUR"],
      ["payout", 8, 2554, 0, -2554, "EUR"],
    ]);
    expect(ok[0]).to.deep.equal({
      v: 1,
      psp: "acme",
      reportId: "po_X",
      lineNo: 2,
      lineId: "txn_1",
      kind: "capture",
      pspReference: "ch_A",
      paymentPspReference: "ch_A",
      merchantReference: "pay_1",
      currency: "EUR",
      amount: 4000,
      fee: 146,
      net: 3854,
      batch: "po_X",
      payoutId: "po_X",
      createdAt: "2026-12-01T10:00:00Z",
      availableOn: "2026-12-03T00:00:00Z",
    });
    expect(ok[1]).to.include({ pspReference: "re_B", paymentPspReference: null, merchantReference: "pay_1" });
    expect(ok[5]).to.include({ pspReference: null, merchantReference: null, availableOn: null });
    expect(ok[6]).to.include({ pspReference: null, lineId: "txn_7" });
    for (const line of ok) expect(SettlementLine.safeParse(line).success, line.lineId).to.equal(true);
  });

  it("rejects each malformed line with its line number and takes the rest", async () => {
    const text = [
      ACME_HEADER,
      "txn_1,2026-12-01 10:00:00,,eur,40.00,1.46,38.54,charge,ch_A,pay_1,po_X",
      "txn_2,2026-12-01 10:00:00,,eur,40.00,1.46,charge,ch_A,pay_1,po_X", // a column short
      "txn_3,2026-12-01 10:00:00,,eur,40.001,1.46,38.541,charge,ch_A,pay_1,po_X", // 3 decimals in EUR
      "txn_4,2026-12-01 10:00:00,,eur,40.00,1.46,38.54,transfer,ch_A,pay_1,po_X", // unknown category
      "txn_5,2026-12-31 25:00:00,,eur,40.00,1.46,38.54,charge,ch_A,pay_1,po_X", // no such hour
      "txn_6,2026-12-01 10:00:00,,xxx,40.00,1.46,38.54,charge,ch_A,pay_1,po_X", // unknown currency
      "txn_7,2026-12-01 10:00:00,,eur,40.00,1.46,38.00,charge,ch_A,pay_1,po_X", // net ≠ gross − fee
      "txn_8,2026-12-01 10:00:00,,jpy,40.5,1,39.5,charge,ch_A,pay_1,po_X", // decimals in JPY
      "txn_9,2026-12-01 10:00:00,,eur,1.00,0.00,1.00,charge,ch_B,pay_2,po_X",
    ].join("\n");
    const { ok, rejected } = await collect(parseAcmeReport(chunked(text), { reportId: "po_X" }));
    expect(ok.map((l) => [l.lineId, l.lineNo])).to.deep.equal([
      ["txn_1", 2],
      ["txn_9", 10],
    ]);
    expect(rejected.map((r) => r.lineNo)).to.deep.equal([3, 4, 5, 6, 7, 8, 9]);
    expect(rejected[0]!.reason).to.match(/columns/);
    expect(rejected[1]!.reason).to.match(/gross.*2 decimals/);
    expect(rejected[2]!.reason).to.match(/reporting_category/);
    expect(rejected[3]!.reason).to.match(/time/);
    expect(rejected[4]!.reason).to.match(/currency/);
    expect(rejected[5]!.reason).to.match(/net/);
    expect(rejected[6]!.reason).to.match(/JPY: at most 0 decimals/);
  });

  it("reads a BOM, CRLF line ends, quoted fields with commas and quotes, and blank lines", async () => {
    const text =
      "\uFEFF" +
      [
        ACME_HEADER,
        'txn_1,2026-12-01 10:00:00,,eur,40.00,1.46,38.54,charge,ch_A,"pay,1 ""quoted""",po_X',
        "",
        "txn_2,2026-12-01 10:00:00,,eur,1.00,0.00,1.00,charge,ch_B,pay_2,po_X",
      ].join("\r\n") +
      "\r\n";
    const { ok, rejected } = await collect(parseAcmeReport(chunked(text, 3), { reportId: "po_X" }));
    expect(rejected).to.deep.equal([]);
    expect(ok.map((l) => [l.lineNo, l.merchantReference])).to.deep.equal([
      [2, 'pay,1 "quoted"'],
      [4, "pay_2"],
    ]);
  });

  it("reports a line csv-parse cannot read, in its place, and goes on", async () => {
    const text = [
      ACME_HEADER,
      "txn_1,2026-12-01 10:00:00,,eur,1.00,0.00,1.00,charge,ch_A,pay_1,po_X",
      "txn_2,2026-12-01 10:00:00,,eur,1.00,0.00,1.00,charge,ch_A,pay_2,po_X",
      'txn_3,2026-12-01 10:00:00,,eur,1.00,0.00,1.00,charge,ch_A,"pay_3,po_X', // the quote never closes
    ].join("\n");
    const got = [];
    for await (const l of parseAcmeReport(Readable.from([text]), { reportId: "r" }))
      got.push(l.ok ? l.line.lineNo : `rejected ${l.rejected.lineNo}`);
    expect(got).to.deep.equal([2, 3, "rejected 4"]);
  });

  it("refuses a file with a wrong or missing header, or no content at all", async () => {
    const wrong = "id,created,amount\n1,2,3\n";
    const headless = "txn_1,2026-12-01 10:00:00,,eur,1.00,0.00,1.00,charge,ch_A,pay_1,po_X\n";
    for (const text of [wrong, headless, ""]) {
      try {
        await collect(parseAcmeReport(Readable.from([text]), { reportId: "r" }));
        expect.fail(`accepted ${JSON.stringify(text)}`);
      } catch (err) {
        expect(err).to.be.instanceOf(ReportFormatError);
      }
    }
  });
});

describe("the bolt settlement parser", () => {
  const row = (fields: string) => `SwitchyardSandbox,${fields}`;
  const report = [
    BOLT_HEADER,
    row("PAY1,pay_1,visa,2026-12-01 10:00:00,UTC,Settled,CAP1,EUR,,40.00,1,EUR,,38.75,0.60,0.00,0.05,0.60,7"),
    row(
      "PAY1,pay_1,visa,2026-12-01 11:00:00,UTC,Refunded,REF1,EUR,10.00,,1,EUR,10.10,,0.10,0.00,0.00,0.00,7",
    ),
    row("PAY2,pay_2,visa,2026-12-01 12:00:00,+09:00,Settled,PAY2,JPY,,5000,1,JPY,,4853,130,0,2,15,7"),
    row(",,,2026-12-02 00:00:00,UTC,Fee,,,,,,EUR,1.00,,1.00,0.00,0.00,0.00,7"),
    row(",,,2026-12-02 00:00:00,UTC,MerchantPayout,,,,,,EUR,27.65,,,,,,7"),
  ].join("\r\n");

  it("maps every type to its kind, sums the fee columns and signs the net", async () => {
    const { ok, rejected } = await collect(parseBoltReport(chunked(report), { reportId: "7" }));
    expect(rejected).to.deep.equal([]);
    expect(ok.map((l) => [l.kind, l.lineId, l.amount, l.fee, l.net, l.currency, l.createdAt])).to.deep.equal([
      ["capture", "CAP1:Settled", 4000, 125, 3875, "EUR", "2026-12-01T10:00:00Z"],
      ["refund", "REF1:Refunded", 1000, 10, -1010, "EUR", "2026-12-01T11:00:00Z"],
      ["capture", "PAY2:Settled", 5000, 147, 4853, "JPY", "2026-12-01T03:00:00Z"],
      ["fee", "7:Fee:4", 0, 100, -100, "EUR", "2026-12-02T00:00:00Z"],
      ["payout", "7:MerchantPayout:5", 2765, 0, -2765, "EUR", "2026-12-02T00:00:00Z"],
    ]);
    expect(ok[0]).to.include({
      pspReference: "CAP1",
      paymentPspReference: "PAY1",
      merchantReference: "pay_1",
      batch: "7",
      payoutId: "batch-7",
      reportId: "7",
      availableOn: null,
    });
    expect(ok[3]).to.include({ pspReference: null, paymentPspReference: null, merchantReference: null });
    for (const line of ok) expect(SettlementLine.safeParse(line).success, line.lineId).to.equal(true);
  });

  it("rejects each malformed line with its line number and takes the rest", async () => {
    const text = [
      BOLT_HEADER,
      row(
        "PAY1,pay_1,visa,2026-12-01 10:00:00,UTC,Settled,CAP1,EUR,,40.00,1,EUR,,38.75,0.60,0.00,0.05,0.60,7",
      ),
      row(
        "PAY1,pay_1,visa,2026-12-01 10:00:00,UTC,Chargeback,CAP2,EUR,,40.00,1,EUR,,38.75,0.60,0.00,0.05,0.60,7",
      ),
      row("PAY1,pay_1,visa,2026-12-01 10:00:00,UTC,Settled,CAP3,EUR,,40.00,1,EUR,,38.75,0.60,0.00,0.05,7"),
      row(
        "PAY1,pay_1,visa,2026-12-01 10:00:00,UTC,Settled,CAP4,EUR,,40.000,1,EUR,,38.75,0.60,0.00,0.05,0.60,7",
      ),
      row("PAY1,pay_1,visa,01/12/2026 10:00,UTC,Settled,CAP5,EUR,,40.00,1,EUR,,38.75,0.60,0.00,0.05,0.60,7"),
      row(
        "PAY1,pay_1,visa,2026-12-01 10:00:00,CET,Settled,CAP6,EUR,,40.00,1,EUR,,38.75,0.60,0.00,0.05,0.60,7",
      ),
      row(
        "PAY1,pay_1,visa,2026-12-01 10:00:00,UTC,Settled,CAP7,EUR,,40.00,1,EUR,,39.75,0.60,0.00,0.05,0.60,7",
      ),
      row(
        "PAY1,pay_1,visa,2026-12-01 10:00:00,UTC,Settled,CAP8,EUR,,40.00,1,ZZZ,,38.75,0.60,0.00,0.05,0.60,7",
      ),
      row(
        "PAY1,pay_1,visa,2026-12-01 10:00:00,UTC,Settled,CAP9,EUR,,40.00,1,EUR,,38.75,0.60,0.00,0.05,0.60,7",
      ),
    ].join("\n");
    const { ok, rejected } = await collect(parseBoltReport(chunked(text), { reportId: "7" }));
    expect(ok.map((l) => [l.lineId, l.lineNo])).to.deep.equal([
      ["CAP1:Settled", 2],
      ["CAP9:Settled", 10],
    ]);
    expect(rejected.map((r) => r.lineNo)).to.deep.equal([3, 4, 5, 6, 7, 8, 9]);
    expect(rejected.map((r) => r.reason)).to.satisfy((reasons: string[]) =>
      [
        /Type/,
        /columns/,
        /Gross Credit.*2 decimals/,
        /Creation Date/,
        /Creation Date/,
        /net/,
        /Currency/,
      ].every((re, i) => re.test(reasons[i]!)),
    );
  });

  it("reads a BOM and quoted fields with commas", async () => {
    const text =
      "\uFEFF" +
      [
        BOLT_HEADER,
        row('PAY1,"pay,1",visa,2026-12-01 10:00:00,UTC,Settled,CAP1,EUR,,1.00,1,EUR,,1.00,,,,,7'),
      ].join("\r\n");
    const { ok, rejected } = await collect(parseBoltReport(Readable.from([text]), { reportId: "7" }));
    expect(rejected).to.deep.equal([]);
    expect(ok[0]).to.include({ merchantReference: "pay,1", fee: 0, net: 100 });
  });

  it("refuses an acme report, and is the parser registered for bolt", async () => {
    const acme = `${ACME_HEADER}\ntxn_1,2026-12-01 10:00:00,,eur,1.00,0.00,1.00,charge,ch_A,pay_1,po_X\n`;
    try {
      await collect(settlementParsers.bolt!(Readable.from([acme]), { reportId: "7" }));
      expect.fail("took an acme report");
    } catch (err) {
      expect(err).to.be.instanceOf(ReportFormatError);
      expect((err as Error).message).to.match(/Psp Reference/);
    }
    expect(settlementParsers.acme).to.equal(parseAcmeReport);
  });
});

describe("the bytes of a settlement report (issue 16)", () => {
  const enc = new TextEncoder();
  const check = (...pieces: Array<string | number[]>): ReportContentError | null => {
    const guard = new ReportGuard();
    try {
      for (const p of pieces) guard.push(typeof p === "string" ? enc.encode(p) : new Uint8Array(p));
      guard.end();
      return null;
    } catch (err) {
      expect(err).to.be.instanceOf(ReportContentError);
      return err as ReportContentError;
    }
  };
  const HEAD = "id,amount,reference\n";

  it("takes UTF-8 text of any script, a BOM, quoted line breaks and CRLF", () => {
    expect(check("\uFEFF", HEAD, 'a,1,"frais du lot — د.ك €\n😀"\r\n', "b,2,x\r\n")).to.equal(null);
    // A sequence split across two pieces is still one character.
    expect(check(HEAD, "c,3,", [0xf0, 0x9f], [0x98, 0x80], "\n")).to.equal(null);
  });

  it("names the line and the column of a NUL, a surrogate or bytes that are not UTF-8", () => {
    const nul = check(HEAD, "a,1,x\n", "b,2,y\u0000z\n");
    expect(nul).to.deep.include({ line: 3, column: 3, columnName: "reference", problem: "a NUL character" });
    expect(check(HEAD, "a,", [0xed, 0xa0, 0x80], ",x\n")).to.deep.include({
      line: 2,
      column: 2,
      columnName: "amount",
      problem: "an unpaired surrogate",
    });
    expect(check(HEAD, "a,1,caf", [0xe9], "\n")?.problem).to.equal("invalid UTF-8");
    expect(check(HEAD, "a,1,", [0xc0, 0xaf], "\n")?.problem).to.equal("invalid UTF-8"); // overlong "/"
    expect(check(HEAD, "a,1,", [0xe2, 0x82])?.problem).to.match(/truncated/);
    // A line break inside quotes starts a new physical line of the same record and column.
    expect(check(HEAD, 'a,1,"x\ny\u0000"\n')).to.deep.include({ line: 3, column: 3 });
  });

  it("refuses a field or a record longer than a report ever needs, by line", () => {
    const field = check(HEAD, "a,1,ok\n", `b,2,${"r".repeat(MAX_FIELD_BYTES + 1)}\n`);
    expect(field).to.deep.include({ line: 3, column: 3 });
    expect(field?.message).to.include(`a field longer than ${MAX_FIELD_BYTES} bytes`);
    const wide = Array.from({ length: 10 }, () => "w".repeat(MAX_FIELD_BYTES - 1)).join(",");
    expect(check(HEAD, `${wide}\n`)?.message).to.include(`a record longer than ${MAX_RECORD_BYTES} bytes`);
    expect(check(HEAD, `a,1,${"r".repeat(MAX_FIELD_BYTES)}\n`)).to.equal(null);
  });
});
