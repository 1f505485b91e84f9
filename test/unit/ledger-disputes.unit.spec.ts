// The money of a chargeback in the ledger, one hand-made history each: the dispute opened recovers
// the amount from the merchant against the PSP's disputes account, a dispute won gives it back, a
// dispute lost leaves it with the shopper; the PSP's chargeback line clears the disputes account.
// Every entry balances, and the expiry and an accepted refund book nothing.
import { expect } from "chai";
import { isBalanced, type JournalEntry } from "../../actors/ledger/core/entry.ts";
import { entriesForLine } from "../../actors/ledger/core/postings.ts";
import type { PaymentEvent } from "../../actors/payment/core/events.ts";
import { evt, history, LATER } from "./decider-spec.ts";
import { balancesOf, journalOf, line, nonZero } from "./ledger-spec.ts";

const R = "psp:psp_a:receivable";
const DISPUTES = "psp:psp_a:disputes";
const CLEARING = "bank:psp_a:clearing";
const FEES = "psp:psp_a:fees";
const PAYABLE = "merchant:merchant_1:payable";
const CLOSED_AT = "2025-03-20T09:00:00.000Z";

const dr = (account: string, debit: number) => ({ account, debit, credit: 0 });
const cr = (account: string, credit: number) => ({ account, debit: 0, credit });

const opened = (amount = 4_000, disputeId = "dp_1"): PaymentEvent => ({
  type: "DisputeOpened",
  disputeId,
  psp: "psp_a",
  amount,
  currency: "EUR",
  reason: "fraudulent",
  at: LATER,
});
const closed = (outcome: "won" | "lost", disputeId = "dp_1"): PaymentEvent => ({
  type: "DisputeClosed",
  disputeId,
  outcome,
  at: CLOSED_AT,
});

const disputeEntries = (entries: JournalEntry[]) => entries.filter((e) => e.kind === "dispute");

describe("ledger posting rules: disputes", () => {
  it("books a dispute opened as Dr merchant payable / Cr the PSP's disputes, by the disputed amount", () => {
    const entries = journalOf([...history.captured(), opened()]);
    expect(disputeEntries(entries)).to.deep.equal([
      {
        id: "pay_1:5",
        at: LATER,
        currency: "EUR",
        kind: "dispute",
        paymentId: "pay_1",
        description: "dispute dp_1 opened at psp_a: fraudulent",
        sources: ["PAY_EVT:104#5"],
        postings: [dr(PAYABLE, 4_000), cr(DISPUTES, 4_000)],
      },
    ]);
  });

  it("reverses it when the dispute is won: the merchant is owed the whole capture again", () => {
    const entries = journalOf([...history.captured(), opened(), closed("won")]);
    const won = disputeEntries(entries)[1]!;
    expect(won).to.include({ id: "pay_1:6", at: CLOSED_AT, description: "dispute dp_1 won at psp_a" });
    expect(won.postings).to.deep.equal([dr(DISPUTES, 4_000), cr(PAYABLE, 4_000)]);
    expect(nonZero(balancesOf(entries), "EUR")).to.deep.equal({ [PAYABLE]: "-10000", [R]: "10000" });
  });

  it("books nothing when the dispute is lost: the amount stays recovered from the merchant", () => {
    const entries = journalOf([...history.captured(), opened(), closed("lost")]);
    expect(disputeEntries(entries)).to.have.length(1);
    expect(nonZero(balancesOf(entries), "EUR")).to.deep.equal({
      [DISPUTES]: "-4000",
      [PAYABLE]: "-6000",
      [R]: "10000",
    });
  });

  it("clears the disputes account with the PSP's chargeback line of a lost dispute", () => {
    const events = [...history.captured(), opened(), closed("lost")];
    const chargeback = entriesForLine(line({ kind: "chargeback", amount: 4_000, fee: 1_500, net: -5_500 }));
    const all = [...journalOf(events), ...chargeback];
    const balances = nonZero(balancesOf(all), "EUR");
    expect(balances).to.not.have.property(DISPUTES);
    expect(balances).to.deep.equal({
      [CLEARING]: "-5500",
      [FEES]: "1500",
      [PAYABLE]: "-6000",
      [R]: "10000",
    });
  });

  it("keeps two disputes of one payment apart, each closed its own way", () => {
    const entries = journalOf([
      ...history.captured(),
      opened(3_000, "dp_1"),
      opened(2_000, "dp_2"),
      closed("won", "dp_2"),
      closed("lost", "dp_1"),
    ]);
    expect(disputeEntries(entries).map((e) => e.description)).to.deep.equal([
      "dispute dp_1 opened at psp_a: fraudulent",
      "dispute dp_2 opened at psp_a: fraudulent",
      "dispute dp_2 won at psp_a",
    ]);
    expect(nonZero(balancesOf(entries), "EUR")[DISPUTES]).to.equal("-3000");
  });

  it("books nothing for a dispute closed that was never opened, nor for an expiry or an accepted refund", () => {
    expect(disputeEntries(journalOf([...history.captured(), closed("won")]))).to.deep.equal([]);
    const expired = journalOf([
      ...history.requiresAction(),
      { type: "PaymentExpired", attemptNo: 1, at: LATER },
      evt.opRequested("void", 0, "expiry"),
      evt.opSucceeded("expiry"),
    ]);
    expect(expired).to.deep.equal([]);
    const accepted = journalOf([
      ...history.captured(),
      evt.opRequested("refund", 2_000),
      { type: "OperationAccepted", operationId: "op_1", pspReference: "re_1", at: LATER },
    ]);
    expect(accepted.map((e) => e.kind)).to.deep.equal(["capture"]);
  });

  it("balances every entry, and the journal as a whole, whatever the disputes' outcomes", () => {
    for (const outcome of ["won", "lost"] as const) {
      const entries = journalOf([
        ...history.captured(),
        evt.opRequested("refund", 1_000),
        evt.opSucceeded(),
        opened(9_000),
        closed(outcome),
      ]);
      for (const e of entries) expect(isBalanced(e), e.id).to.equal(true);
      const sum = [...(balancesOf(entries).get("EUR")?.values() ?? [])].reduce((a, b) => a + b, 0n);
      expect(sum, outcome).to.equal(0n);
    }
  });
});
