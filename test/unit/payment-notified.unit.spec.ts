// What happens to a payment after the PSP call, without the merchant asking: a PSP's notification (a
// 3-D Secure result, a refund completed later, a chargeback) and the expiry of an abandoned challenge.
// Every one is idempotent: the same notification again decides nothing.
import { expect } from "chai";
import fc from "fast-check";
import type { PaymentCommand, RecordNotification } from "../../actors/payment/core/commands.ts";
import { decide } from "../../actors/payment/core/decide.ts";
import { EXPIRY_OPERATION } from "../../actors/payment/core/decide-notified.ts";
import { isAtRest, nextEffect } from "../../actors/payment/core/effects.ts";
import { evolveAll } from "../../actors/payment/core/evolve.ts";
import type { PspNotification } from "../../actors/payment/core/notification.ts";
import type { Payment, PaymentState } from "../../actors/payment/core/state.ts";
import { toView } from "../../actors/payment/core/view.ts";
import type { PaymentEvent } from "../../actors/payment/core/events.ts";
import { cmd, evt, given, history, LATER, MERCHANT_ID, PAYMENT_ID, psp } from "./decider-spec.ts";

const PSP = "psp_a";

function run(state: PaymentState, ...commands: PaymentCommand[]): Payment {
  for (const c of commands) {
    const d = decide(state, c);
    if (!d.ok) throw new Error(d.rejection.message);
    state = evolveAll(state, d.events);
  }
  if (!state) throw new Error("no payment");
  return state;
}

const base = { psp: PSP, paymentReference: PAYMENT_ID, pspReference: "ref_1", at: LATER };
type Fields = {
  [K in PspNotification["kind"]]: Omit<Extract<PspNotification, { kind: K }>, keyof typeof base>;
};
const notify = (n: Fields[keyof Fields] & Partial<typeof base>): RecordNotification => ({
  type: "RecordNotification",
  paymentId: PAYMENT_ID,
  notification: { ...base, ...n },
  at: LATER,
});
const expire = { type: "ExpirePayment", paymentId: PAYMENT_ID, merchantId: MERCHANT_ID, at: LATER } as const;

describe("a payment after the PSP call", () => {
  const challenged = () => run(undefined, cmd.create(), cmd.authResult(1, psp.requiresAction()));
  const captured = () =>
    run(undefined, cmd.create({ capture: "automatic" }), cmd.authResult(1, psp.authorized(true)));

  describe("3-D Secure completed (the PSP's notification)", () => {
    it("authorizes a payment waiting on its challenge, naming the notification", () => {
      const d = decide(challenged(), notify({ id: "n1", kind: "authorization", outcome: "authorized" }));
      expect(d.ok && d.events).to.deep.equal([
        {
          type: "PaymentAuthorized",
          attemptNo: 1,
          pspReference: "ref_1",
          captured: false,
          at: LATER,
          notificationId: "n1",
        },
      ]);
    });

    it("captures it when the PSP captured at authentication", () => {
      const p = run(
        challenged(),
        notify({ id: "n1", kind: "authorization", outcome: "authorized", captured: true }),
      );
      expect(p.status).to.equal("captured");
      expect(p.capturedAmount).to.equal(p.amount);
    });

    it("declines it when the shopper failed the challenge, as a hard decline (never cascaded)", () => {
      const p = run(
        challenged(),
        notify({ id: "n1", kind: "authorization", outcome: "declined", code: "authentication_failed" }),
      );
      expect(p.status).to.equal("declined");
      expect(p.declineCode).to.equal("authentication_failed");
      expect(p.attempts).to.have.length(1);
    });

    it("decides nothing for the same notification again, nor for one about another PSP's payment", () => {
      const p = run(challenged(), notify({ id: "n1", kind: "authorization", outcome: "authorized" }));
      const again = decide(p, notify({ id: "n1", kind: "authorization", outcome: "authorized" }));
      expect(again.ok && again.events).to.deep.equal([]);
      const other = decide(p, notify({ id: "n2", psp: "psp_z", kind: "authorization", outcome: "declined" }));
      expect(other.ok).to.equal(false);
    });
  });

  describe("an abandoned challenge expires", () => {
    it("ends expired and voids the authorization the PSP holds; the void leaves it expired", () => {
      const d = decide(challenged(), expire);
      expect(d.ok && d.events.map((e) => e.type)).to.deep.equal(["PaymentExpired", "OperationRequested"]);
      let p = run(challenged(), expire);
      expect(p.status).to.equal("expired");
      expect(nextEffect(p)).to.deep.include({ kind: "operation" });
      p = run(p, cmd.opResult(EXPIRY_OPERATION, psp.succeeded()));
      expect(p.status).to.equal("expired");
      expect(isAtRest(p)).to.equal(true);
      expect(toView(p).status).to.equal("expired");
    });

    it("changes nothing once the payment completed, and a late 3-D Secure result changes nothing after", () => {
      const done = run(challenged(), notify({ id: "n1", kind: "authorization", outcome: "authorized" }));
      expect(decide(done, expire)).to.deep.equal({ ok: true, events: [] });
      const expired = run(challenged(), expire);
      const late = decide(expired, notify({ id: "n1", kind: "authorization", outcome: "authorized" }));
      expect(late).to.deep.equal({ ok: true, events: [] });
    });
  });

  describe("a refund the PSP completes later", () => {
    const accepted = () =>
      run(
        captured(),
        cmd.refund(4000, { operationId: "op_r" }),
        cmd.opResult("op_r", { outcome: "accepted", pspReference: "re_1" }),
      );

    it("waits accepted, with nothing for the actor to call, until the notification settles it", () => {
      const p = accepted();
      expect(p.operations[0]).to.include({ status: "accepted", pspReference: "re_1" });
      expect(nextEffect(p)).to.equal(undefined);
      const done = run(
        p,
        notify({ id: "n3", kind: "refund", operationReference: "re_1", outcome: "succeeded" }),
      );
      expect(done.status).to.equal("partially_refunded");
      expect(done.refundedAmount).to.equal(4000);
      const again = decide(
        done,
        notify({ id: "n3", kind: "refund", operationReference: "re_1", outcome: "succeeded" }),
      );
      expect(again).to.deep.equal({ ok: true, events: [] });
    });

    it("records a refund the PSP failed later, leaving the captured amount refundable", () => {
      const p = run(
        accepted(),
        notify({
          id: "n4",
          kind: "refund",
          operationReference: "re_1",
          outcome: "failed",
          code: "insufficient_balance",
        }),
      );
      expect(p.operations[0]).to.include({ status: "failed", code: "insufficient_balance" });
      expect(p.refundedAmount).to.equal(0);
    });

    it("rejects a refund notification naming no refund of the payment (kept for reconciliation)", () => {
      const d = decide(
        accepted(),
        notify({ id: "n5", kind: "refund", operationReference: "re_zzz", outcome: "succeeded" }),
      );
      expect(d.ok).to.equal(false);
    });
  });

  describe("disputes", () => {
    const opened = {
      id: "n6",
      kind: "dispute_opened",
      disputeId: "dp_1",
      amount: 5000,
      currency: "EUR",
      reason: "fraudulent",
    } as const;

    it("records a chargeback in the view, once, and closes it won or lost", () => {
      let p = run(captured(), notify(opened));
      expect(p.status).to.equal("captured");
      expect(toView(p).disputes).to.deep.equal([
        {
          id: "dp_1",
          psp: PSP,
          amount: 5000,
          currency: "EUR",
          reason: "fraudulent",
          status: "open",
          opened_at: LATER,
          closed_at: null,
        },
      ]);
      expect(decide(p, notify(opened))).to.deep.equal({ ok: true, events: [] });
      p = run(p, notify({ id: "n7", kind: "dispute_closed", disputeId: "dp_1", outcome: "lost" }));
      expect(toView(p).disputes[0]).to.include({ status: "lost", closed_at: LATER });
      expect(
        decide(p, notify({ id: "n8", kind: "dispute_closed", disputeId: "dp_1", outcome: "won" })),
      ).to.deep.equal({ ok: true, events: [] });
    });

    it("refuses a dispute on a payment with nothing captured, and the closing of an unknown dispute", () => {
      expect(decide(challenged(), notify(opened)).ok).to.equal(false);
      expect(
        decide(captured(), notify({ id: "n9", kind: "dispute_closed", disputeId: "dp_x", outcome: "won" }))
          .ok,
      ).to.equal(false);
    });
  });

  describe("disputes are bounded by what the PSP could claw back (captured - refunded - open or lost)", () => {
    // The history of a payment of 10,000 EUR captured at psp_a (decider-spec's defaults).
    const CAPTURED = history.captured();
    const dispute = (disputeId: string, amount: number, currency = "EUR") =>
      notify({
        id: `ntf_${disputeId}`,
        kind: "dispute_opened",
        disputeId,
        amount,
        currency,
        reason: "fraud",
      });
    const opened = (disputeId: string, amount: number): PaymentEvent => ({
      type: "DisputeOpened",
      disputeId,
      psp: PSP,
      amount,
      currency: "EUR",
      reason: "fraud",
      at: LATER,
    });
    const closed = (disputeId: string, outcome: "won" | "lost"): PaymentEvent => ({
      type: "DisputeClosed",
      disputeId,
      outcome,
      at: LATER,
    });
    const refunded = (amount: number): PaymentEvent[] => [
      evt.opRequested("refund", amount, "re_1"),
      evt.opSucceeded("re_1"),
    ];

    it("takes a dispute of the whole captured amount", () => {
      given(...CAPTURED)
        .when(dispute("dp_1", 10_000))
        .then({
          type: "DisputeOpened",
          disputeId: "dp_1",
          psp: PSP,
          amount: 10_000,
          currency: "EUR",
          reason: "fraud",
          at: LATER,
        });
    });

    it("refuses a dispute above the captured amount", () => {
      given(...CAPTURED)
        .when(dispute("dp_1", 10_001))
        .thenRejects("dispute_out_of_bounds");
    });

    it("refuses a dispute in another currency than the payment's, whatever its amount", () => {
      given(...CAPTURED)
        .when(dispute("dp_1", 100, "USD"))
        .thenRejects("dispute_out_of_bounds");
      given(...CAPTURED)
        .when(dispute("dp_1", 1, "JPY"))
        .thenRejects("dispute_out_of_bounds");
    });

    it("refuses a second dispute beyond what the first left, takes one within it", () => {
      given(...CAPTURED, opened("dp_1", 6_000))
        .when(dispute("dp_2", 6_000))
        .thenRejects("dispute_out_of_bounds");
      given(...CAPTURED, opened("dp_1", 6_000))
        .when(dispute("dp_2", 4_000))
        .thenState({});
    });

    it("counts a lost dispute as gone and a won one as back with the merchant", () => {
      given(...CAPTURED, opened("dp_1", 6_000), closed("dp_1", "lost"))
        .when(dispute("dp_2", 4_001))
        .thenRejects("dispute_out_of_bounds");
      given(...CAPTURED, opened("dp_1", 6_000), closed("dp_1", "won"))
        .when(dispute("dp_2", 10_000))
        .thenState({});
    });

    it("does not claw back what was already refunded to the shopper", () => {
      given(...CAPTURED, ...refunded(3_000))
        .when(dispute("dp_1", 7_001))
        .thenRejects("dispute_out_of_bounds");
      given(...CAPTURED, ...refunded(3_000))
        .when(dispute("dp_1", 7_000))
        .thenState({});
    });

    it("does not refund money a dispute holds or took: the shopper would get it twice", () => {
      given(...CAPTURED, opened("dp_1", 6_000))
        .when(cmd.refund(4_001))
        .thenRejects("amount_too_large");
      given(...CAPTURED, opened("dp_1", 6_000), closed("dp_1", "lost"))
        .when(cmd.refund())
        .thenState({});
      given(...CAPTURED, opened("dp_1", 10_000))
        .when(cmd.refund())
        .thenRejects("amount_too_large");
    });

    it("still takes the same dispute again as a no-op, even when it used the whole amount", () => {
      given(...CAPTURED, opened("dp_1", 10_000))
        .when(dispute("dp_1", 10_000))
        .then();
    });

    it("never lets the open disputes exceed the captured amount, whatever the PSP notifies", () => {
      type Step =
        | { t: "open"; id: number; amount: number; currency: string }
        | { t: "close"; id: number; outcome: "won" | "lost" }
        | { t: "refund"; amount: number };
      const step: fc.Arbitrary<Step> = fc.oneof(
        {
          weight: 4,
          arbitrary: fc.record({
            t: fc.constant("open" as const),
            id: fc.integer({ min: 1, max: 6 }),
            amount: fc.integer({ min: 0, max: 12_000 }),
            currency: fc.constantFrom("EUR", "EUR", "EUR", "USD", "JPY"),
          }),
        },
        {
          weight: 2,
          arbitrary: fc.record({
            t: fc.constant("close" as const),
            id: fc.integer({ min: 1, max: 6 }),
            outcome: fc.constantFrom("won" as const, "lost" as const),
          }),
        },
        {
          weight: 1,
          arbitrary: fc.record({
            t: fc.constant("refund" as const),
            amount: fc.integer({ min: 1, max: 4_000 }),
          }),
        },
      );
      fc.assert(
        fc.property(fc.array(step, { maxLength: 25 }), (steps) => {
          let p: PaymentState = evolveAll(undefined, CAPTURED);
          let refunds = 0;
          for (const s of steps) {
            const c: PaymentCommand =
              s.t === "open"
                ? dispute(`dp_${s.id}`, s.amount, s.currency)
                : s.t === "close"
                  ? notify({
                      id: `c_${s.id}_${s.outcome}`,
                      kind: "dispute_closed",
                      disputeId: `dp_${s.id}`,
                      outcome: s.outcome,
                    })
                  : cmd.refund(s.amount, {
                      operationId: `re_${++refunds}`,
                      requestFingerprint: `fp_re_${refunds}`,
                    });
            const d = decide(p, c);
            if (!d.ok) continue;
            p = evolveAll(p, d.events);
            // A refund asked for is done at once (its PSP answered).
            if (s.t === "refund" && d.events.some((e) => e.type === "OperationRequested"))
              p = evolveAll(p, [evt.opSucceeded(`re_${refunds}`)]);
          }
          const q = p!;
          const held = (q.disputes ?? []).filter((d) => d.status !== "won");
          const open = held.filter((d) => d.status === "open").reduce((sum, d) => sum + d.amount, 0);
          expect(open).to.be.at.most(q.capturedAmount);
          expect(held.reduce((sum, d) => sum + d.amount, 0)).to.be.at.most(
            q.capturedAmount - q.refundedAmount,
          );
          expect((q.disputes ?? []).every((d) => d.currency === q.currency)).to.equal(true);
        }),
        { numRuns: 300 },
      );
    });
  });
});
