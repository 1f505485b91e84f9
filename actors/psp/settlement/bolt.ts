// bolt's settlement report (shaped like Adyen's Settlement details report) → the normalized
// SettlementLine. One row per settled modification: debit and credit columns instead of signs, the fee
// itemized as Commission + Markup + Scheme Fees + Interchange, local times in the row's TimeZone. A row
// that cannot be mapped is rejected with its line number and the rest is still taken; a file without
// bolt's header is refused.
import { SETTLEMENT_LINE_VERSION, type LineKind, type ParsedLine } from "../../settlement/core/line.ts";
import {
  columnsOf,
  csvRows,
  currencyOf,
  localToIso,
  optionalMinor,
  ReportFormatError,
  type ReportInput,
} from "./csv.ts";

export const BOLT_COLUMNS = [
  "Merchant Account",
  "Psp Reference",
  "Merchant Reference",
  "Payment Method",
  "Creation Date",
  "TimeZone",
  "Type",
  "Modification Reference",
  "Gross Currency",
  "Gross Debit (GC)",
  "Gross Credit (GC)",
  "Exchange Rate",
  "Net Currency",
  "Net Debit (NC)",
  "Net Credit (NC)",
  "Commission (NC)",
  "Markup (NC)",
  "Scheme Fees (NC)",
  "Interchange (NC)",
  "Batch Number",
] as const;

const KINDS: ReadonlyMap<string, LineKind> = new Map<string, LineKind>([
  ["Settled", "capture"],
  ["Refunded", "refund"],
  ["Fee", "fee"],
  ["MerchantPayout", "payout"],
]);

/** The money columns, read in this order; the first one that is not a decimal names the reject. */
const MONEY = [
  "Gross Debit (GC)",
  "Gross Credit (GC)",
  "Net Debit (NC)",
  "Net Credit (NC)",
  "Commission (NC)",
  "Markup (NC)",
  "Scheme Fees (NC)",
  "Interchange (NC)",
] as const;

const rejected = (lineNo: number, reason: string): ParsedLine => ({
  ok: false,
  rejected: { lineNo, reason },
});

export async function* parseBoltReport(
  input: ReportInput,
  opts: { reportId: string },
): AsyncGenerator<ParsedLine> {
  const { reportId } = opts;
  let col: Record<(typeof BOLT_COLUMNS)[number], number> | undefined;
  let width = 0;
  let ordinal = 0;
  const money = new Array<number>(MONEY.length).fill(0);
  for await (const row of csvRows(input)) {
    if (row.record === null) {
      if (!col) throw new ReportFormatError(`not a bolt report: ${row.rejected.reason}`);
      yield { ok: false, rejected: row.rejected };
      continue;
    }
    const r = row.record;
    const lineNo = row.lineNo;
    if (!col) {
      col = columnsOf(r, BOLT_COLUMNS, "bolt settlement details");
      width = r.length;
      continue;
    }
    ordinal++;
    if (r.length !== width) {
      yield rejected(lineNo, `expected ${width} columns, got ${r.length}`);
      continue;
    }
    const type = r[col.Type]!;
    const kind = KINDS.get(type);
    if (kind === undefined) {
      yield rejected(lineNo, `unknown Type ${JSON.stringify(type)}`);
      continue;
    }
    const currency = currencyOf(r[col["Net Currency"]]!);
    if (currency === null) {
      yield rejected(lineNo, `unknown Net Currency ${JSON.stringify(r[col["Net Currency"]])}`);
      continue;
    }
    const grossCurrency = r[col["Gross Currency"]]!;
    if (grossCurrency !== "" && grossCurrency !== currency.code) {
      yield rejected(lineNo, `Gross Currency ${grossCurrency} differs from Net Currency ${currency.code}`);
      continue;
    }
    let bad = -1;
    for (let i = 0; i < MONEY.length; i++) {
      const v = optionalMinor(r[col[MONEY[i]!]]!, currency.exponent);
      if (Number.isNaN(v)) {
        bad = i;
        break;
      }
      money[i] = v;
    }
    if (bad >= 0) {
      const name = MONEY[bad]!;
      yield rejected(
        lineNo,
        `bad ${name} ${JSON.stringify(r[col[name]])} (${currency.code}: at most ${currency.exponent} decimals)`,
      );
      continue;
    }
    const [grossDebit, grossCredit, netDebit, netCredit, commission, markup, scheme, interchange] = money as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const fee = commission + markup + scheme + interchange;
    const net = netCredit - netDebit;
    const payment = kind === "capture" || kind === "refund";
    const amount =
      kind === "capture" ? grossCredit : kind === "refund" ? grossDebit : grossCredit + grossDebit;
    if (payment && net !== (kind === "capture" ? amount - fee : -(amount + fee))) {
      yield rejected(lineNo, `net ${net} does not follow from gross ${amount} and fees ${fee} for ${type}`);
      continue;
    }
    const createdAt = localToIso(r[col["Creation Date"]]!, r[col.TimeZone]!);
    if (createdAt === null) {
      const when = `${r[col["Creation Date"]]} ${r[col.TimeZone]}`;
      yield rejected(lineNo, `bad Creation Date/TimeZone ${JSON.stringify(when)}`);
      continue;
    }
    const modification = r[col["Modification Reference"]]!;
    const batch = r[col["Batch Number"]]!;
    if ((payment && modification === "") || batch === "") {
      yield rejected(
        lineNo,
        batch === "" ? "no Batch Number" : `a ${type} row without Modification Reference`,
      );
      continue;
    }
    yield {
      ok: true,
      line: {
        v: SETTLEMENT_LINE_VERSION,
        psp: "bolt",
        reportId,
        lineNo,
        lineId: payment ? `${modification}:${type}` : `${batch}:${type}:${ordinal}`,
        kind,
        pspReference: payment ? modification : null,
        paymentPspReference: r[col["Psp Reference"]] || null,
        merchantReference: r[col["Merchant Reference"]] || null,
        currency: currency.code,
        // A payout names no gross: its amount is what it pays (or takes back).
        amount: kind === "payout" && amount === 0 ? (net < 0 ? -net : net) : amount,
        fee,
        net,
        batch,
        payoutId: `batch-${batch}`,
        createdAt,
        availableOn: null,
      },
    };
  }
  if (!col)
    throw new ReportFormatError("not a bolt settlement details report: the file is empty (no header)");
}
