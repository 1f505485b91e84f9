// The posting rules, one hand-made history each: what a payment event, a settlement line and an
// operator's resolution book, to the account and the minor unit.
import { expect } from "chai";
import { normalSideOf } from "../../actors/ledger/core/accounts.ts";
import { UnbalancedEntryError, assertBalanced, isBalanced } from "../../actors/ledger/core/entry.ts";
import type { JournalEntry } from "../../actors/ledger/core/entry.ts";
import { entriesForEvent, entriesForLine } from "../../actors/ledger/core/postings.ts";
import { entriesForResolution, settledByEvent } from "../../actors/ledger/core/resolutions.ts";
import { evt, history, stateOf } from "./decider-spec.ts";
import {
  balancesOf,
  exception,
  journalOf,
  line,
  nonZero,
  operation,
  resolution,
  settle,
} from "./ledger-spec.ts";

const R = "psp:psp_a:receivable";
const FEES = "psp:psp_a:fees";
const CLEARING = "bank:psp_a:clearing";
const PAYOUTS = "bank:psp_a:payouts";
const SUSPENSE = "psp:psp_a:suspense";
const PAYABLE = "merchant:merchant_1:payable";
const REFUNDS = "merchant:merchant_1:refunds";

const postingsOf = (entries: JournalEntry[]) => entries.map((e) => e.postings);
const dr = (account: string, debit: number) => ({ account, debit, credit: 0 });
const cr = (account: string, credit: number) => ({ account, debit: 0, credit });

describe("ledger posting rules: payment events", () => {
  it("books a capture at authorization as Dr receivable / Cr merchant payable, named after its event", () => {
    const before = stateOf(...history.authorizing());
    const entries = entriesForEvent(before, evt.authorized(1, true), { seq: 41, eventNo: 4 });
    expect(entries).to.deep.equal([
      {
        id: "pay_1:4",
        at: "2025-03-01T10:00:05.000Z",
        currency: "EUR",
        kind: "capture",
        paymentId: "pay_1",
        description: "captured 10000 at psp_a",
        sources: ["PAY_EVT:41#4"],
        postings: [dr(R, 10_000), cr(PAYABLE, 10_000)],
      },
    ]);
  });

  it("books nothing for an authorization without capture, an operation requested, or a void", () => {
    const events = [
      ...history.authorized(),
      evt.opRequested("void", 10_000),
      evt.opSucceeded(),
      evt.opRequested("capture", 10_000, "op_2"),
      evt.opFailed("op_2"),
    ];
    expect(journalOf(events)).to.deep.equal([]);
  });

  it("books a partial manual capture by the captured amount when the PSP confirms it", () => {
    const entries = journalOf([
      ...history.authorized(),
      evt.opRequested("capture", 6_000),
      evt.opSucceeded(),
    ]);
    expect(entries.map((e) => [e.id, e.kind])).to.deep.equal([["pay_1:6", "capture"]]);
    expect(postingsOf(entries)).to.deep.equal([[dr(R, 6_000), cr(PAYABLE, 6_000)]]);
  });

  it("books a refund as Dr merchant refunds / Cr receivable, each partial refund by its own amount", () => {
    const entries = journalOf([
      ...history.captured(),
      evt.opRequested("refund", 2_000, "op_1"),
      evt.opSucceeded("op_1"),
      evt.opRequested("refund", 500, "op_2"),
      evt.opSucceeded("op_2"),
    ]);
    expect(entries.map((e) => e.kind)).to.deep.equal(["capture", "refund", "refund"]);
    expect(postingsOf(entries).slice(1)).to.deep.equal([
      [dr(REFUNDS, 2_000), cr(R, 2_000)],
      [dr(REFUNDS, 500), cr(R, 500)],
    ]);
  });

  it("books a capture settled as Cr receivable by the amount, Dr fees by the fee, Dr clearing by the net", () => {
    const entries = journalOf([...history.captured(), settle.capture({ fee: 165 })]);
    const settlement = entries[1]!;
    expect(settlement.kind).to.equal("settlement");
    expect(settlement.sources).to.deep.equal(["PAY_EVT:104#5", "SETTLE_LINE:psp_a:rep_1#ln_1"]);
    expect(settlement.postings).to.deep.equal([dr(CLEARING, 9_835), dr(FEES, 165), cr(R, 10_000)]);
  });

  it("still balances a settlement whose fee exceeds the amount: clearing is credited", () => {
    const entries = journalOf([
      ...history.authorized(),
      evt.opRequested("capture", 100),
      evt.opSucceeded(),
      settle.capture({ amount: 100, fee: 150, operationId: "op_1" }),
    ]);
    expect(entries[1]!.postings).to.deep.equal([cr(CLEARING, 50), dr(FEES, 150), cr(R, 100)]);
    expect(isBalanced(entries[1]!)).to.equal(true);
  });

  it("books a negative fee (a fee refunded) as a credit to fees", () => {
    const entries = journalOf([...history.captured(), settle.capture({ fee: -20 })]);
    expect(entries[1]!.postings).to.deep.equal([dr(CLEARING, 10_020), cr(FEES, 20), cr(R, 10_000)]);
  });

  it("books a refund settled as Dr receivable by the amount, Dr fees by the fee, Cr clearing by both", () => {
    const entries = journalOf([
      ...history.captured(),
      evt.opRequested("refund", 2_000),
      evt.opSucceeded(),
      settle.refund({ amount: 2_000, fee: 15, operationId: "op_1" }),
    ]);
    expect(entries[2]!.postings).to.deep.equal([cr(CLEARING, 2_015), dr(FEES, 15), dr(R, 2_000)]);
  });

  it("books nothing for an event on a payment that does not exist", () => {
    expect(entriesForEvent(undefined, evt.authorized(1, true), { seq: 1, eventNo: 1 })).to.deep.equal([]);
  });

  it("works the example of docs/ledger.md: 100.00 EUR captured, fee 1.65, 20.00 refunded, paid out", () => {
    const entries = [
      ...journalOf([
        ...history.captured(),
        settle.capture({ fee: 165 }),
        evt.opRequested("refund", 2_000),
        evt.opSucceeded(),
        settle.refund({ amount: 2_000, fee: 0, operationId: "op_1", lineId: "ln_9" }),
      ]),
      ...entriesForLine(
        line({ kind: "payout", amount: 7_835, fee: 0, net: -7_835, merchantReference: null }),
      ),
    ];
    expect(nonZero(balancesOf(entries), "EUR")).to.deep.equal({
      [PAYOUTS]: "7835",
      [REFUNDS]: "2000",
      [PAYABLE]: "-10000",
      [FEES]: "165",
    });
  });
});

describe("ledger posting rules: settlement lines", () => {
  it("leaves capture and refund lines to their settlement events", () => {
    expect(entriesForLine(line({ kind: "capture" }))).to.deep.equal([]);
    expect(entriesForLine(line({ kind: "refund" }))).to.deep.equal([]);
  });

  it("books a fee line as Dr fees / Cr clearing, with no payment, named after its report line", () => {
    const [e, ...rest] = entriesForLine(line({ kind: "fee", amount: 0, fee: 250, net: -250, lineNo: 7 }));
    expect(rest).to.deep.equal([]);
    expect(e).to.deep.include({ id: "line:psp_a:rep_1:7", kind: "fee", paymentId: null });
    expect(e!.sources).to.deep.equal(["SETTLE:psp_a:rep_1#7"]);
    expect(e!.postings).to.deep.equal([dr(FEES, 250), cr(CLEARING, 250)]);
  });

  it("books a payout as Dr bank payouts / Cr clearing", () => {
    const [e] = entriesForLine(line({ kind: "payout", amount: 50_000, fee: 0, merchantReference: null }));
    expect(e!.postings).to.deep.equal([dr(PAYOUTS, 50_000), cr(CLEARING, 50_000)]);
  });

  it("books an adjustment to clearing by its net, against suspense", () => {
    const [up] = entriesForLine(line({ kind: "adjustment", amount: 300, fee: 0, net: 300 }));
    expect(up!.postings).to.deep.equal([dr(CLEARING, 300), cr(SUSPENSE, 300)]);
    const [down] = entriesForLine(line({ kind: "adjustment", amount: 300, fee: 10, net: -310 }));
    expect(down!.postings).to.deep.equal([cr(CLEARING, 310), dr(FEES, 10), dr(SUSPENSE, 300)]);
  });

  it("books a chargeback as Dr disputes and fees / Cr clearing", () => {
    const [e] = entriesForLine(line({ kind: "chargeback", amount: 10_000, fee: 1_500 }));
    expect(e!.postings).to.deep.equal([
      cr(CLEARING, 11_500),
      dr(FEES, 1_500),
      dr("psp:psp_a:disputes", 10_000),
    ]);
  });

  it("books a void line only when the PSP charged a fee for it", () => {
    expect(entriesForLine(line({ kind: "void", amount: 0, fee: 0, net: 0 }))).to.deep.equal([]);
    const [e] = entriesForLine(line({ kind: "void", amount: 0, fee: 5, net: -5 }));
    expect(e!.postings).to.deep.equal([dr(FEES, 5), cr(CLEARING, 5)]);
  });
});

describe("ledger posting rules: resolutions", () => {
  const src = { seq: 12 };

  it("lets accept and link settle capture and refund lines by event, and nothing else", () => {
    const cases: Array<[string, string, boolean]> = [
      ["amount_mismatch", "accept", true],
      ["fee_variance", "accept", true],
      ["unknown", "link", true],
      ["unknown", "accept", false],
      ["duplicate", "accept", false],
      ["currency_mismatch", "accept", false],
      ["amount_mismatch", "write_off", false],
      ["amount_mismatch", "requery", false],
    ];
    for (const [kind, r, expected] of cases)
      expect(
        settledByEvent(
          exception({ kind: kind as never }),
          resolution(r as never, { paymentId: r === "link" ? "pay_9" : null }),
        ),
        `${kind} + ${r}`,
      ).to.equal(expected);
    expect(settledByEvent(exception({ line: line({ kind: "payout" }) }), resolution("accept"))).to.equal(
      false,
    );
  });

  it("writes off what the PSP paid short when an amount mismatch is accepted (the event books the line)", () => {
    const ex = exception({ line: line({ amount: 9_900 }) });
    const [e, ...rest] = entriesForResolution(ex, resolution("accept", { amount: 100 }), src);
    expect(rest).to.deep.equal([]);
    expect(e).to.deep.include({ id: "recon:x_psp_a_rep_1_2:12", kind: "resolution", paymentId: "pay_1" });
    expect(e!.sources).to.deep.equal(["RECON:x_psp_a_rep_1_2", "RECON_EVT:12", "SETTLE:psp_a:rep_1#2"]);
    expect(e!.postings).to.deep.equal([dr("writeoff", 100), cr(R, 100)]);
  });

  it("books the gain the other way round when the PSP paid more", () => {
    const [e] = entriesForResolution(
      exception({ line: line({ amount: 10_050 }) }),
      resolution("accept"),
      src,
    );
    expect(e!.postings).to.deep.equal([cr("writeoff", 50), dr(R, 50)]);
  });

  it("books the line and the difference when an amount mismatch is written off", () => {
    const ex = exception({ line: line({ amount: 9_900, fee: 100 }) });
    const [e] = entriesForResolution(ex, resolution("write_off"), src);
    expect(e!.postings).to.deep.equal([
      dr(CLEARING, 9_800),
      dr(FEES, 100),
      cr(R, 10_000),
      dr("writeoff", 100),
    ]);
  });

  it("reverses the difference on a refund's amount mismatch", () => {
    const ex = exception({
      line: line({ kind: "refund", amount: 1_900 }),
      operation: operation({ kind: "refund", amount: 2_000 }),
    });
    const [e] = entriesForResolution(ex, resolution("accept"), src);
    expect(e!.postings).to.deep.equal([cr("writeoff", 100), dr(R, 100)]);
  });

  it("books nothing when a fee variance is accepted, and the variance to writeoff when it is written off", () => {
    const ex = exception({
      kind: "fee_variance",
      line: line({ fee: 300 }),
      operation: operation({ expectedFee: 200 }),
    });
    expect(entriesForResolution(ex, resolution("accept"), src)).to.deep.equal([]);
    const [e] = entriesForResolution(ex, resolution("write_off"), src);
    expect(e!.postings).to.deep.equal([
      dr(CLEARING, 9_700),
      dr(FEES, 200),
      cr(R, 10_000),
      dr("writeoff", 100),
    ]);
  });

  it("books an unknown line to suspense when accepted and to writeoff when written off", () => {
    const ex = exception({
      kind: "unknown",
      operation: null,
      line: line({ fee: 50, merchantReference: null }),
    });
    const [accepted] = entriesForResolution(ex, resolution("accept"), src);
    expect(accepted!.paymentId).to.equal(null);
    expect(accepted!.postings).to.deep.equal([dr(CLEARING, 9_950), dr(FEES, 50), cr(SUSPENSE, 10_000)]);
    const [written] = entriesForResolution(ex, resolution("write_off"), src);
    expect(written!.postings).to.deep.equal([dr(CLEARING, 9_950), dr(FEES, 50), cr("writeoff", 10_000)]);
  });

  it("books a duplicate paid twice to writeoff or suspense", () => {
    const ex = exception({ kind: "duplicate" });
    expect(postingsOf(entriesForResolution(ex, resolution("write_off"), src))).to.deep.equal([
      [dr(CLEARING, 10_000), cr("writeoff", 10_000)],
    ]);
    expect(postingsOf(entriesForResolution(ex, resolution("accept"), src))).to.deep.equal([
      [dr(CLEARING, 10_000), cr(SUSPENSE, 10_000)],
    ]);
  });

  it("writes off a missing settlement's receivable, and leaves it open when accepted", () => {
    const ex = exception({ kind: "missing", line: null, id: "x_missing_psp_a_ref_1" });
    const [e] = entriesForResolution(ex, resolution("write_off"), src);
    expect(e!.id).to.equal("recon:x_missing_psp_a_ref_1:12");
    expect(e!.postings).to.deep.equal([dr("writeoff", 10_000), cr(R, 10_000)]);
    expect(entriesForResolution(ex, resolution("accept"), src)).to.deep.equal([]);
  });

  it("books a currency mismatch in both currencies, each entry balanced in its own", () => {
    const ex = exception({ kind: "currency_mismatch", line: line({ currency: "USD", amount: 10_800 }) });
    const entries = entriesForResolution(ex, resolution("accept"), src);
    expect(entries.map((e) => [e.id, e.currency])).to.deep.equal([
      ["recon:x_psp_a_rep_1_2:12:1", "USD"],
      ["recon:x_psp_a_rep_1_2:12:2", "EUR"],
    ]);
    expect(postingsOf(entries)).to.deep.equal([
      [dr(CLEARING, 10_800), cr("writeoff", 10_800)],
      [dr("writeoff", 10_000), cr(R, 10_000)],
    ]);
  });

  it("moves no money for link and requery", () => {
    for (const r of ["link", "requery"] as const)
      expect(entriesForResolution(exception({ kind: "unknown" }), resolution(r), src)).to.deep.equal([]);
  });
});

describe("ledger entries", () => {
  const entry = (postings: JournalEntry["postings"]): JournalEntry => ({
    id: "e1",
    at: "2025-03-01T10:00:00.000Z",
    currency: "EUR",
    kind: "fee",
    paymentId: null,
    description: "",
    sources: [],
    postings,
  });

  it("rejects unbalanced, negative, fractional, unsafe and two-sided postings, naming the entry", () => {
    for (const postings of [
      [dr(FEES, 10), cr(CLEARING, 9)],
      [dr(FEES, -10), cr(CLEARING, -10)],
      [dr(FEES, 0.5), cr(CLEARING, 0.5)],
      [dr(FEES, 2 ** 53), cr(CLEARING, 2 ** 53)],
      [{ account: FEES, debit: 10, credit: 10 }],
      [],
    ]) {
      expect(isBalanced(entry(postings)), JSON.stringify(postings)).to.equal(false);
      expect(() => assertBalanced(entry(postings))).to.throw(UnbalancedEntryError, /journal entry e1/);
    }
    expect(() => assertBalanced(entry([dr(FEES, 10), cr(CLEARING, 10)]))).not.to.throw();
  });

  it("gives every account of the chart a normal side", () => {
    for (const a of [
      R,
      FEES,
      CLEARING,
      PAYOUTS,
      SUSPENSE,
      PAYABLE,
      REFUNDS,
      "writeoff",
      "psp:psp_a:disputes",
    ])
      expect(normalSideOf(a), a).to.be.oneOf(["debit", "credit"]);
    expect(normalSideOf(PAYABLE)).to.equal("credit");
    expect(normalSideOf("cash")).to.equal(undefined);
  });
});

describe("ledger posting rules: what a settlement report may not put in the journal (issue 16)", () => {
  it("keeps a merchant reference out of the payment id unless it has a payment id's shape", () => {
    const formula = '=HYPERLINK("http://evil.example","x")';
    const [e] = entriesForLine(
      line({ kind: "adjustment", amount: 300, fee: 0, net: 300, merchantReference: formula }),
    );
    expect(e!.paymentId).to.equal(null);
    expect(e!.description).to.include(JSON.stringify(formula));
    const id = "pay_0123456789abcdef01234567";
    const [ok] = entriesForLine(
      line({ kind: "adjustment", amount: 300, fee: 0, net: 300, merchantReference: id }),
    );
    expect(ok!.paymentId).to.equal(id);
  });

  it("moves only the variance when a fee variance that settled its payment is written off", () => {
    const ex = exception({
      kind: "fee_variance",
      line: line({ fee: 300 }),
      operation: operation({ expectedFee: 200 }),
      settled: true,
    });
    expect(settledByEvent(ex, resolution("accept"))).to.equal(false);
    expect(entriesForResolution(ex, resolution("accept"), { seq: 3 })).to.deep.equal([]);
    const [e, ...rest] = entriesForResolution(ex, resolution("write_off"), { seq: 3 });
    expect(rest).to.deep.equal([]);
    expect(e!.postings).to.deep.equal([cr(FEES, 100), dr("writeoff", 100)]);
  });
});
