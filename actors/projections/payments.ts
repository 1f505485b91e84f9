// The payments read model: PAY_EVT folded into one row per payment (the searchable fields and the
// state it continues from), every PSP operation by its PSP reference (what settlement lines match),
// and the ledger's journal entries for the same events. One transaction per batch with the position
// (streams/db/follower.ts): rebuilt from the stream at any time, never the record.
import { rowsParam, type Tx } from "../../streams/db/client.ts";
import type { FrameSource, StreamMsg } from "../../streams/event-tap.ts";
import { PoisonFrameError } from "../../streams/db/set-aside.ts";
import type { Logger } from "../../config/log.ts";
import type { PaymentEvent } from "../payment/core/events.ts";
import { isAtRest } from "../payment/core/effects.ts";
import { evolve } from "../payment/core/evolve.ts";
import type { Operation, Payment, PaymentState } from "../payment/core/state.ts";
import { feeTermsOf } from "../policy/core/decision.ts";
import { feeOnTerms } from "../policy/core/fees.ts";
import { entriesForEvent } from "../ledger/core/postings.ts";
import { insertEntries } from "../ledger/store.ts";
import type { JournalEntry } from "../ledger/core/postings.ts";
import { readPaymentFrame, type PaymentFrame } from "./frames.ts";

export const PAYMENTS_READ_MODEL = "payments";
/** Frames per transaction of the payments read model. */
export const PAYMENTS_BATCH = 500;

type OperationRow = {
  psp: string;
  kind: "capture" | "refund" | "void";
  psp_reference: string;
  payment_id: string;
  merchant_id: string;
  operation_id: string | null;
  amount: number;
  currency: string;
  expected_fee: number | null;
  brand: string;
  bin_country: string | null;
  at: string;
};

/** The operation a PSP performed, if this event records one (pure). */
export function operationOf(before: Payment, event: PaymentEvent): OperationRow | undefined {
  const base = {
    payment_id: before.id,
    merchant_id: before.merchantId,
    currency: before.currency,
    brand: before.card.brand,
    bin_country: before.card.binCountry,
    at: event.at,
  };
  if (event.type === "PaymentAuthorized" && event.captured) {
    const attempt = before.attempts.find((a) => a.no === event.attemptNo);
    if (!attempt) return undefined;
    return {
      ...base,
      psp: attempt.psp,
      kind: "capture",
      psp_reference: event.pspReference,
      operation_id: null,
      amount: before.amount,
      expected_fee: attempt.expectedFee ?? null,
    };
  }
  if (event.type === "OperationSucceeded") {
    const op = before.operations.find((o) => o.id === event.operationId);
    if (!op || !before.psp) return undefined;
    return {
      ...base,
      psp: before.psp,
      kind: op.kind,
      psp_reference: event.pspReference,
      operation_id: op.id,
      amount: op.amount,
      expected_fee: op.kind === "capture" ? captureFee(before, op.amount) : null,
    };
  }
  return undefined;
}

/**
 * The fee expected for a capture of `captured`: the fee terms recorded at routing applied to the amount
 * captured (a PSP charges the fixed part in full on a partial capture). A payment routed before the
 * terms were recorded: the routing-time fee for the whole amount, pro rata (half up), as before.
 */
function captureFee(p: Payment, captured: number): number | null {
  const terms = feeTermsOf(p.routing, p.psp);
  if (terms) return feeOnTerms(terms, captured);
  const fee = p.attempts.find((a) => a.psp === p.psp && a.status === "authorized")?.expectedFee ?? null;
  if (fee === null || p.amount === 0) return fee;
  return captured === p.amount ? fee : Math.floor((fee * captured * 2 + p.amount) / (2 * p.amount));
}

export function paymentsProjection(log: Logger, source?: FrameSource) {
  return {
    name: PAYMENTS_READ_MODEL,
    batch: PAYMENTS_BATCH,
    ...(source && { source }),
    async apply(tx: Tx, msgs: readonly StreamMsg[]): Promise<void> {
      const frames = decodeAll(msgs, log);
      if (frames.length === 0) return;
      const ids = [...new Set(frames.map((f) => f.paymentId))];
      const rows = await tx<{ id: string; state: Payment; last_seq: number }[]>`
        select id, state, last_seq from payments where id = any(${ids})`;
      const states = new Map<string, { state: PaymentState; lastSeq: number }>(
        rows.map((r) => [r.id, { state: r.state, lastSeq: r.last_seq }]),
      );
      const operations: OperationRow[] = [];
      const entries: JournalEntry[] = [];
      const touched = new Set<string>();
      for (const f of frames) {
        const known = states.get(f.paymentId) ?? { state: undefined, lastSeq: 0 };
        if (f.seq <= known.lastSeq) continue; // applied before (a replay of this batch)
        let state = known.state;
        f.events.forEach((event, i) => {
          if (state) {
            const op = operationOf(state, event);
            if (op) operations.push(op);
          }
          const next = evolve(state, event);
          entries.push(...entriesForEvent(state, event, { seq: f.seq, eventNo: f.firstEventNo + i }, next));
          state = next;
        });
        states.set(f.paymentId, { state, lastSeq: f.seq });
        touched.add(f.paymentId);
      }
      const upserts = [...touched].flatMap((id) => {
        const s = states.get(id);
        return s?.state ? [paymentRow(s.state, s.lastSeq)] : [];
      });
      // Sent together (pipelined on the transaction's connection, executed in order): one round trip
      // for the batch's writes, not one each — what a single payment at a time pays for every round trip.
      const writes: Array<Promise<unknown>> = [insertEntries(tx, entries)];
      if (upserts.length > 0)
        writes.push(
          tx`insert into payments (id, merchant_id, status, psp, amount, currency, captured_amount,
            refunded_amount, reference, last4, brand, bin_country, created_at, updated_at, last_seq, state, open)
          select * from jsonb_to_recordset(${rowsParam(tx, upserts)}) as r(id text, merchant_id text,
            status text, psp text, amount bigint, currency text, captured_amount bigint,
            refunded_amount bigint, reference text, last4 text, brand text, bin_country text,
            created_at timestamptz, updated_at timestamptz, last_seq bigint, state jsonb, open boolean)
          on conflict (id) do update set status = excluded.status, psp = excluded.psp,
            captured_amount = excluded.captured_amount, refunded_amount = excluded.refunded_amount,
            updated_at = excluded.updated_at, last_seq = excluded.last_seq, state = excluded.state,
            open = excluded.open`.execute(),
        );
      if (operations.length > 0)
        writes.push(
          tx`insert into psp_operations (psp, kind, psp_reference, payment_id, merchant_id,
            operation_id, amount, currency, expected_fee, brand, bin_country, at)
          select * from jsonb_to_recordset(${rowsParam(tx, operations)}) as r(psp text, kind text,
            psp_reference text, payment_id text, merchant_id text, operation_id text, amount bigint,
            currency text, expected_fee bigint, brand text, bin_country text, at timestamptz)
          on conflict do nothing`.execute(),
        );
      await Promise.all(writes);
    },
  };
}

function paymentRow(p: Payment, lastSeq: number) {
  return {
    id: p.id,
    merchant_id: p.merchantId,
    status: p.status,
    psp: p.psp ?? null,
    amount: p.amount,
    currency: p.currency,
    captured_amount: p.capturedAmount,
    refunded_amount: p.refundedAmount,
    reference: p.reference ?? null,
    last4: p.card.last4,
    brand: p.card.brand,
    bin_country: p.card.binCountry,
    created_at: p.createdAt,
    updated_at: p.updatedAt,
    last_seq: lastSeq,
    state: p,
    open: isUnfinished(p),
  };
}

/**
 * Not done, for the stuck list: not at rest, a PSP effect to run, or an operation the PSP accepted and
 * still owes its notification for (an asynchronous refund: nothing to call, yet not finished).
 */
export function isUnfinished(p: Payment): boolean {
  return !isAtRest(p) || awaitingNotification(p) !== undefined;
}

/** The operation the PSP took and will answer by notification (an `accepted` refund), if any. */
export function awaitingNotification(p: Payment): Operation | undefined {
  return p.operations.find((o) => o.status === "accepted");
}

function decodeAll(msgs: readonly StreamMsg[], log: Logger): PaymentFrame[] {
  const out: PaymentFrame[] = [];
  for (const m of msgs) {
    const r = readPaymentFrame(m);
    if (!r.ok) {
      // The actor validated these before writing: an unreadable one is a bug or tampering. The
      // follower sets it aside (recorded, counted, listed) and goes on; `npm run audit:verify` names it too.
      log.error({ seq: m.seq, subject: m.subject }, "payments read model: undecodable event frame");
      throw new PoisonFrameError(
        "undecodable",
        `frame ${m.seq} on ${m.subject} is not a readable event frame`,
      );
    }
    out.push(r.frame);
  }
  return out;
}
