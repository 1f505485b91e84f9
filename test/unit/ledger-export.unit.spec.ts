// The ledger export: csv and jsonl stream out with a trailer that verifyExport checks again, and any
// tampering (a byte, a line, an amount) is named.
import { expect } from "chai";
import fc from "fast-check";
import type { JournalEntry } from "../../actors/ledger/core/entry.ts";
import type { ExportFormat } from "../../actors/ledger/core/export.ts";
import {
  CSV_HEADER,
  csvCell,
  exportLines,
  linesOf,
  numberCell,
  parseCsvRow,
  verifyExport,
} from "../../actors/ledger/core/export.ts";
import { exactNumber, LedgerRangeError, totalsOf } from "../../actors/ledger/store.ts";

async function* from<T>(items: Iterable<T>): AsyncGenerator<T> {
  for (const item of items) yield await Promise.resolve(item);
}

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const exported = (entries: JournalEntry[], format: ExportFormat) =>
  collect(exportLines(from(entries), format));

function entry(id: string, currency: string, amount: number, o: Partial<JournalEntry> = {}): JournalEntry {
  return {
    id,
    at: "2025-03-01T10:00:05.000Z",
    currency,
    kind: "capture",
    paymentId: "pay_1",
    description: "captured",
    sources: [`PAY_EVT:7#${id}`],
    postings: [
      { account: "psp:psp_a:receivable", debit: amount, credit: 0 },
      { account: "merchant:m_1:payable", debit: 0, credit: amount },
    ],
    ...o,
  };
}

const ENTRIES = [
  entry("pay_1:4", "EUR", 10_000),
  entry("pay_1:5", "JPY", 1_234, { description: 'fee, "quoted", and\nsplit' }),
  entry("line:psp_a:rep_1:7", "KWD", 1_001, {
    paymentId: null,
    kind: "fee",
    description: "frais du lot — 1,001 د.ك €",
  }),
];

const trailerOf = (lines: string[]): Record<string, unknown> => {
  const last = lines.at(-1)!;
  return last.startsWith("#trailer,")
    ? (JSON.parse(parseCsvRow(last.trimEnd())![1]!) as Record<string, unknown>)
    : (JSON.parse(last) as { trailer: Record<string, unknown> }).trailer;
};

describe("ledger export", () => {
  for (const format of ["csv", "jsonl"] as const) {
    it(`round-trips ${format} through verifyExport, with counts and per-currency totals in the trailer`, async () => {
      const lines = await exported(ENTRIES, format);
      expect(lines.every((l) => l.endsWith("\n") && l.indexOf("\n") === l.length - 1)).to.equal(true);
      const t = trailerOf(lines);
      expect(t).to.deep.include({ v: 1, format, entries: 3, postings: 6, lines: format === "csv" ? 6 : 3 });
      expect(t.totals).to.deep.equal({
        EUR: { debit: "10000", credit: "10000" },
        JPY: { debit: "1234", credit: "1234" },
        KWD: { debit: "1001", credit: "1001" },
      });
      expect(t.sha256).to.match(/^[0-9a-f]{64}$/);
      expect(await verifyExport(from(lines))).to.deep.equal({ ok: true, lines: t.lines, problems: [] });
    });

    it(`verifies a ${format} file read back in arbitrary chunks of bytes`, async () => {
      const bytes = Buffer.from((await exported(ENTRIES, format)).join(""), "utf8");
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 1, max: bytes.length }), { maxLength: 6 }),
          async (cuts) => {
            const at = [0, ...[...new Set(cuts)].sort((a, b) => a - b), bytes.length];
            const chunks = at.slice(1).map((end, i) => bytes.subarray(at[i], end));
            expect((await verifyExport(linesOf(from(chunks)))).ok).to.equal(true);
          },
        ),
        { numRuns: 50 },
      );
    });

    it(`names a digest mismatch when one byte of a ${format} export changes`, async () => {
      const lines = await exported(ENTRIES, format);
      lines[1] = lines[1]!.replace("captured", "capturex");
      const result = await verifyExport(from(lines));
      expect(result.ok).to.equal(false);
      expect(result.problems.join("\n")).to.match(/^digest mismatch/m);
    });

    it(`names a count mismatch when a ${format} line is removed`, async () => {
      const lines = await exported(ENTRIES, format);
      lines.splice(format === "csv" ? 3 : 2, 1);
      const problems = (await verifyExport(from(lines))).problems.join("\n");
      expect(problems).to.match(/^count mismatch: trailer says \d+ lines/m);
      expect(problems).to.match(/^digest mismatch/m);
    });

    it(`names a missing trailer and an unbalanced entry in ${format}`, async () => {
      const unbalanced = entry("pay_1:9", "EUR", 10, {
        postings: [
          { account: "a", debit: 10, credit: 0 },
          { account: "b", debit: 0, credit: 9 },
        ],
      });
      const lines = await exported([...ENTRIES, unbalanced], format);
      const result = await verifyExport(from(lines.slice(0, -1)));
      expect(result.problems).to.include("missing trailer");
      expect(result.problems.join("\n")).to.match(/^unbalanced entry pay_1:9/m);
    });

    it(`keeps amounts near the largest safe integer exact in ${format}`, async () => {
      const big = Number.MAX_SAFE_INTEGER - 1;
      const entries = [
        entry("e1", "KWD", big),
        entry("e2", "KWD", big),
        entry("e3", "JPY", Number.MAX_SAFE_INTEGER),
      ];
      const lines = await exported(entries, format);
      expect(trailerOf(lines).totals).to.deep.equal({
        JPY: { debit: "9007199254740991", credit: "9007199254740991" },
        KWD: { debit: "18014398509481980", credit: "18014398509481980" },
      });
      expect(lines.join("")).to.contain("9007199254740990");
      expect((await verifyExport(from(lines))).ok).to.equal(true);
    });
  }

  it("writes one csv row per posting with the documented columns and RFC 4180 quoting", async () => {
    const lines = await exported([ENTRIES[1]!], "csv");
    expect(lines[0]).to.equal(`${CSV_HEADER}\n`);
    expect(lines[1]).to.equal(
      'pay_1:5,2025-03-01T10:00:05.000Z,capture,pay_1,JPY,psp:psp_a:receivable,1234,0,PAY_EVT:7#pay_1:5,"fee, ""quoted"", and split"\n',
    );
    expect(parseCsvRow(lines[1]!.trimEnd())).to.have.length(10);
    expect(lines.at(-1)).to.match(/^#trailer,"\{""v"":1,""format"":""csv"",/);
  });

  it("exports nothing but a header and a trailer for an empty journal, and verifies it", async () => {
    for (const format of ["csv", "jsonl"] as const) {
      const lines = await exported([], format);
      expect(lines).to.have.length(2);
      expect(await verifyExport(from(lines))).to.deep.equal({ ok: true, lines: 0, problems: [] });
    }
  });

  it("refuses what is not an export, and content after the trailer", async () => {
    expect((await verifyExport(from(["hello\n"]))).problems).to.deep.equal([
      "line 1: not a ledger export header",
    ]);
    expect((await verifyExport(from([]))).ok).to.equal(false);
    const lines = await exported(ENTRIES, "jsonl");
    const result = await verifyExport(from([...lines, "{}\n"]));
    expect(result.problems).to.deep.equal([`line ${lines.length + 1}: content after the trailer`]);
  });
});

describe("ledger export: cells a spreadsheet would run, and sums past 2^53 (issue 16)", () => {
  it("puts a single quote before a text cell starting with = + - @ tab or CR, and nothing else", () => {
    expect(csvCell("=cmd|' /C calc'!A0")).to.equal("'=cmd|' /C calc'!A0");
    expect(csvCell('=HYPERLINK("http://x","y")')).to.equal(`"'=HYPERLINK(""http://x"",""y"")"`);
    for (const c of ["+", "-", "@", "\t"]) expect(csvCell(`${c}1`)).to.equal(`'${c}1`);
    expect(csvCell("\r=1")).to.equal("' =1");
    expect(csvCell("a=1")).to.equal("a=1");
    expect(csvCell("bank:psp_a:clearing")).to.equal("bank:psp_a:clearing");
  });

  it("writes amounts as digits, a negative one with its minus sign, never prefixed", () => {
    expect(numberCell(1234)).to.equal("1234");
    expect(numberCell(-50)).to.equal("-50");
    expect(numberCell(2n ** 60n)).to.equal("1152921504606846976");
    expect(() => numberCell(2 ** 60)).to.throw(RangeError);
  });

  it("exports no cell of an entry that starts like a formula, and still verifies", async () => {
    const evil = entry("line:psp_a:rep_1:9", "EUR", 5, {
      paymentId: null,
      kind: "adjustment",
      description: "@SUM(A1:A9)",
      sources: ["-2+3"],
    });
    const lines = await exported([evil], "csv");
    for (const row of lines.slice(1, -1))
      for (const cell of parseCsvRow(row.trimEnd())!) expect(cell).to.not.match(/^[=+\-@\t\r]/);
    expect((await verifyExport(from(lines))).ok).to.equal(true);
  });

  it("sums a trial balance in bigint, and refuses to give a sum past 2^53 as a number", () => {
    const big = 9_007_199_254_740_991n;
    const totals = totalsOf([
      { account: "bank:psp_a:clearing", currency: "EUR", debit: big, credit: 0n, balance: big },
      { account: "psp:psp_a:suspense", currency: "EUR", debit: big, credit: 0n, balance: big },
      { account: "writeoff", currency: "EUR", debit: 0n, credit: 2n * big, balance: -2n * big },
    ]);
    expect(totals).to.deep.equal([{ currency: "EUR", debit: 2n * big, credit: 2n * big, balanced: true }]);
    expect(exactNumber(big, "x")).to.equal(Number.MAX_SAFE_INTEGER);
    expect(() => exactNumber(2n * big, "the total debits in EUR"))
      .to.throw(LedgerRangeError)
      .with.property("message")
      .that.includes("the total debits in EUR is 18014398509481982");
  });
});
