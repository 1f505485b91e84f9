// Properties of the ledger over generated payment histories (decided by the real decider): created,
// authorized with automatic or manual (partial) capture, refunded in parts, settled with random fees,
// in EUR (2 decimals), JPY (0) and KWD (3), with amounts up to the largest the platform accepts.
import { expect } from "chai";
import fc from "fast-check";
import { isBalanced } from "../../actors/ledger/core/entry.ts";
import type { JournalEntry } from "../../actors/ledger/core/entry.ts";
import { entriesForResolution, settledByEvent } from "../../actors/ledger/core/resolutions.ts";
import type { PaymentCommand } from "../../actors/payment/core/commands.ts";
import { decide } from "../../actors/payment/core/decide.ts";
import type { PaymentEvent } from "../../actors/payment/core/events.ts";
import { evolveAll } from "../../actors/payment/core/evolve.ts";
import { MAX_AMOUNT } from "../../actors/payment/core/money.ts";
import type { Payment, PaymentState } from "../../actors/payment/core/state.ts";
import { initialState } from "../../actors/payment/core/state.ts";
import { CARD, cmd, psp, routeOf } from "./decider-spec.ts";
import {
  balance,
  balancesOf,
  exception,
  journalOf,
  line,
  nonZero,
  operation,
  resolution,
  settle,
} from "./ledger-spec.ts";

const RUNS = { numRuns: 300 };

type Scenario = {
  currency: "EUR" | "JPY" | "KWD";
  amount: number;
  automatic: boolean;
  /** Per mille of the amount captured (manual capture). */
  captureShare: number;
  /** Each per mille of what is left to refund; `ok` false: the PSP refuses it. */
  refunds: Array<{ share: number; ok: boolean }>;
  fees: number[];
  /** Where the capture's settlement goes among the refunds; null: not settled yet. */
  settleCaptureAt: number | null;
  settleRefunds: boolean[];
};

const amount = fc.oneof(
  fc.integer({ min: 1, max: 100_000 }),
  fc.integer({ min: MAX_AMOUNT - 1_000, max: MAX_AMOUNT }),
  fc.integer({ min: 1, max: MAX_AMOUNT }),
);

const scenario: fc.Arbitrary<Scenario> = fc.record({
  currency: fc.constantFrom("EUR" as const, "JPY" as const, "KWD" as const),
  amount,
  automatic: fc.boolean(),
  captureShare: fc.integer({ min: 1, max: 1_000 }),
  refunds: fc.array(fc.record({ share: fc.integer({ min: 1, max: 1_000 }), ok: fc.boolean() }), {
    maxLength: 4,
  }),
  fees: fc.array(fc.integer({ min: -500, max: 2_000_000 }), { minLength: 5, maxLength: 5 }),
  settleCaptureAt: fc.option(fc.integer({ min: 0, max: 4 }), { nil: null }),
  settleRefunds: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
});

/** The events of a scenario: each command decided on the state so far, settlements appended as the PSP reports them. */
function historyOf(s: Scenario): PaymentEvent[] {
  const events: PaymentEvent[] = [];
  let state: PaymentState = initialState();
  const apply = (command: PaymentCommand): void => {
    const d = decide(state, command);
    if (!d.ok) return;
    events.push(...d.events);
    state = evolveAll(state, d.events);
  };
  const push = (e: PaymentEvent): void => {
    events.push(e);
    state = evolveAll(state, [e]);
  };
  let fee = 0;
  const nextFee = (): number => s.fees[fee++ % s.fees.length]!;
  const settleCapture = (): void => {
    const p = state!;
    push(
      settle.capture({
        currency: s.currency,
        amount: p.capturedAmount,
        fee: nextFee(),
        operationId: p.operations.find((o) => o.kind === "capture")?.id ?? null,
        lineId: "ln_capture",
      }),
    );
  };

  apply(
    cmd.create({
      amount: s.amount,
      currency: s.currency,
      capture: s.automatic ? "automatic" : "manual",
      route: routeOf(["psp_a"]),
      card: CARD,
    }),
  );
  apply(cmd.authResult(1, psp.authorized(s.automatic)));
  if (!s.automatic) {
    apply(cmd.capture(Math.max(1, Math.floor((s.amount * s.captureShare) / 1_000)), { operationId: "op_c" }));
    apply(cmd.opResult("op_c", psp.succeeded()));
  }
  s.refunds.forEach((r, i) => {
    if (s.settleCaptureAt === i) settleCapture();
    const p = state!;
    const left = p.capturedAmount - p.refundedAmount;
    if (left <= 0) return;
    const id = `op_r${i}`;
    apply(cmd.refund(Math.max(1, Math.floor((left * r.share) / 1_000)), { operationId: id }));
    apply(cmd.opResult(id, r.ok ? psp.succeeded() : psp.failed()));
    const op = state!.operations.find((o) => o.id === id);
    if (op?.status === "succeeded" && s.settleRefunds[i])
      push(
        settle.refund({
          currency: s.currency,
          amount: op.amount,
          fee: nextFee(),
          operationId: id,
          lineId: `ln_${id}`,
        }),
      );
  });
  if (s.settleCaptureAt !== null && s.settleCaptureAt >= s.refunds.length) settleCapture();
  return events;
}

/** The PSP's answer to the authorization the created events asked for: authorized and captured. */
function evolveAndDecide(created: PaymentEvent[]): PaymentEvent[] {
  const d = decide(evolveAll(initialState(), created), cmd.authResult(1, psp.authorized(true)));
  if (!d.ok) throw new Error(d.rejection.code);
  return d.events;
}

const paymentOf = (events: PaymentEvent[]): Payment => evolveAll(initialState(), events)!;

describe("ledger properties over generated payment histories", () => {
  it("balances every entry, in non-negative safe integers", () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(scenario, (s) => {
        for (const e of journalOf(historyOf(s))) {
          seen.add(`${e.kind} ${e.currency}`);
          expect(isBalanced(e), e.id).to.equal(true);
          for (const p of e.postings)
            expect(Number.isSafeInteger(p.debit) && Number.isSafeInteger(p.credit)).to.equal(true);
        }
      }),
      RUNS,
    );
    // The generator reaches every posting rule of a payment, in every currency.
    for (const kind of ["capture", "refund", "settlement"])
      for (const c of ["EUR", "JPY", "KWD"]) expect(seen, `${kind} ${c}`).to.include(`${kind} ${c}`);
  });

  it("rebuilds the same journal from the same events, also after they went through JSON (JetStream)", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const events = historyOf(s);
        const live = journalOf(events);
        const rebuilt = journalOf(JSON.parse(JSON.stringify(events)) as PaymentEvent[]);
        expect(rebuilt).to.deep.equal(live);
        expect(new Set(live.map((e) => e.id)).size, "entry ids are unique").to.equal(live.length);
      }),
      RUNS,
    );
  });

  it("matches the payment's captured, refunded and settled amounts account by account", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const events = historyOf(s);
        const p = paymentOf(events);
        const b = balancesOf(journalOf(events));
        const settled = (kind: "capture" | "refund", f: (x: { amount: number; fee: number }) => number) =>
          (p.settlements ?? []).filter((x) => x.kind === kind).reduce((sum, x) => sum + BigInt(f(x)), 0n);
        const c = s.currency;
        expect(balance(b, c, "merchant:merchant_1:payable"), "payable").to.equal(-BigInt(p.capturedAmount));
        expect(balance(b, c, "merchant:merchant_1:refunds"), "refunds").to.equal(BigInt(p.refundedAmount));
        expect(balance(b, c, "psp:psp_a:receivable"), "receivable").to.equal(
          BigInt(p.capturedAmount) -
            BigInt(p.refundedAmount) -
            settled("capture", (x) => x.amount) +
            settled("refund", (x) => x.amount),
        );
        expect(balance(b, c, "psp:psp_a:fees"), "fees").to.equal(
          settled("capture", (x) => x.fee) + settled("refund", (x) => x.fee),
        );
        expect(balance(b, c, "bank:psp_a:clearing"), "clearing").to.equal(
          settled("capture", (x) => x.amount - x.fee) - settled("refund", (x) => x.amount + x.fee),
        );
        const accounts = Object.keys(nonZero(b, c));
        for (const a of accounts) expect(a).to.match(/^(psp:psp_a:|bank:psp_a:|merchant:merchant_1:)/);
        expect(
          [...b.keys()].every((k) => k === c),
          "one currency",
        ).to.equal(true);
      }),
      RUNS,
    );
  });

  it("books a settlement line exactly once whatever the resolution of its amount or fee exception", () => {
    const arb = fc.record({
      opAmount: fc.integer({ min: 1, max: MAX_AMOUNT }),
      lineAmount: fc.integer({ min: 0, max: MAX_AMOUNT }),
      fee: fc.integer({ min: -1_000, max: 1_000_000 }),
      expectedFee: fc.option(fc.integer({ min: 0, max: 1_000_000 }), { nil: null }),
      kind: fc.constantFrom("amount_mismatch" as const, "fee_variance" as const),
      r: fc.constantFrom("accept" as const, "write_off" as const),
      currency: fc.constantFrom("EUR", "JPY", "KWD"),
    });
    fc.assert(
      fc.property(arb, (a) => {
        // A fee variance is a line of the operation's amount; an amount mismatch, of any other.
        const lineAmount = a.kind === "fee_variance" ? a.opAmount : a.lineAmount;
        const l = line({ amount: lineAmount, fee: a.fee, currency: a.currency });
        const ex = exception({
          kind: a.kind,
          line: l,
          operation: operation({ amount: a.opAmount, currency: a.currency, expectedFee: a.expectedFee }),
        });
        const res = resolution(a.r);
        const created = decide(
          undefined,
          cmd.create({
            amount: a.opAmount,
            currency: a.currency,
            capture: "automatic",
            route: routeOf(["psp_a"]),
          }),
        );
        if (!created.ok) throw new Error(created.rejection.code);
        const capture: JournalEntry[] = journalOf([
          ...created.events,
          ...evolveAndDecide(created.events),
          ...(settledByEvent(ex, res)
            ? [settle.capture({ amount: l.amount, fee: l.fee, currency: a.currency })]
            : []),
        ]);
        const entries = [...capture, ...entriesForResolution(ex, res, { seq: 1 })];
        for (const e of entries) expect(isBalanced(e), e.id).to.equal(true);
        const b = balancesOf(entries);
        const written = balance(b, a.currency, "writeoff");
        expect(balance(b, a.currency, "psp:psp_a:receivable"), "receivable cleared").to.equal(0n);
        expect(balance(b, a.currency, "bank:psp_a:clearing"), "the line's net, once").to.equal(
          BigInt(lineAmount - a.fee),
        );
        expect(balance(b, a.currency, "psp:psp_a:fees") + written, "fees and write-off").to.equal(
          BigInt(a.fee) + BigInt(a.opAmount - lineAmount),
        );
      }),
      RUNS,
    );
  });
});
