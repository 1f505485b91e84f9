// Queries over the payments read model: the operators' search across merchants, a merchant's own
// list, and the payments that are stuck. Newest first, keyset-paginated on (created_at, id), so a
// page costs the same however deep it is.
import type { Sql } from "../../streams/db/client.ts";
import { nextEffect } from "../payment/core/effects.ts";
import { RESTING, type Payment } from "../payment/core/state.ts";
import { awaitingNotification } from "./payments.ts";

export type PaymentRow = {
  id: string;
  merchant_id: string;
  status: string;
  psp: string | null;
  amount: number;
  currency: string;
  captured_amount: number;
  refunded_amount: number;
  reference: string | null;
  last4: string | null;
  created_at: string;
  updated_at: string;
};

export type SearchFilter = {
  /** An exact payment id, merchant reference or PSP reference (the authorization's or any operation's). */
  q?: string;
  merchant?: string;
  status?: string;
  psp?: string;
  createdFrom?: string;
  createdTo?: string;
  amountMin?: number;
  amountMax?: number;
  currency?: string;
  reference?: string;
  last4?: string;
  /** Opaque: from the previous page's next_cursor. */
  cursor?: string;
  limit: number;
};

export class BadCursorError extends Error {
  override name = "BadCursorError";
}

export function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(`${createdAt}|${id}`, "utf8").toString("base64url");
}

function decodeCursor(cursor: string): { at: string; id: string } {
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  const bar = text.indexOf("|");
  const at = text.slice(0, bar);
  const id = text.slice(bar + 1);
  if (bar < 0 || Number.isNaN(Date.parse(at)) || !/^[A-Za-z0-9_-]{1,64}$/.test(id))
    throw new BadCursorError("the cursor is not one this API gave out");
  return { at, id };
}

type Raw = Omit<PaymentRow, "created_at" | "updated_at"> & { created_at: Date; updated_at: Date };

const toRow = (r: Raw): PaymentRow => ({
  ...r,
  created_at: r.created_at.toISOString(),
  updated_at: r.updated_at.toISOString(),
});

export async function searchPayments(
  sql: Sql,
  f: SearchFilter,
): Promise<{ payments: PaymentRow[]; nextCursor: string | null }> {
  const after = f.cursor !== undefined ? decodeCursor(f.cursor) : undefined;
  const v = <T>(x: T | undefined): T | null => x ?? null;
  const rows = await sql<Raw[]>`
    select id, merchant_id, status, psp, amount, currency, captured_amount, refunded_amount, reference,
      last4, created_at, updated_at
    from payments
    where (${v(f.q)}::text is null or id in (
             select ${v(f.q)}::text
             union all select id from payments where reference = ${v(f.q)}
             union all select id from payments where state ->> 'pspReference' = ${v(f.q)}
             union all select payment_id from psp_operations where psp_reference = ${v(f.q)}))
      and (${v(f.merchant)}::text is null or merchant_id = ${v(f.merchant)})
      and (${v(f.status)}::text is null or status = ${v(f.status)})
      and (${v(f.psp)}::text is null or psp = ${v(f.psp)})
      and (${v(f.createdFrom)}::timestamptz is null or created_at >= ${v(f.createdFrom)})
      and (${v(f.createdTo)}::timestamptz is null or created_at < ${v(f.createdTo)})
      and (${v(f.amountMin)}::bigint is null or amount >= ${v(f.amountMin)})
      and (${v(f.amountMax)}::bigint is null or amount <= ${v(f.amountMax)})
      and (${v(f.currency)}::text is null or currency = ${v(f.currency)})
      and (${v(f.reference)}::text is null or reference = ${v(f.reference)})
      and (${v(f.last4)}::text is null or last4 = ${v(f.last4)})
      and (${after?.at ?? null}::timestamptz is null
           or (created_at, id) < (${after?.at ?? null}::timestamptz, ${after?.id ?? ""}))
    order by created_at desc, id desc
    limit ${f.limit + 1}`;
  const page = rows.slice(0, f.limit).map(toRow);
  const last = page.at(-1);
  return {
    payments: page,
    nextCursor: rows.length > f.limit && last ? encodeCursor(last.created_at, last.id) : null,
  };
}

/** A merchant's own list: `starting_after` is a payment id of theirs (Stripe's convention). */
export async function cursorAfterPayment(
  sql: Sql,
  merchantId: string,
  paymentId: string,
): Promise<string | undefined> {
  const rows = await sql<{ created_at: Date }[]>`
    select created_at from payments where id = ${paymentId} and merchant_id = ${merchantId}`;
  const r = rows[0];
  return r && encodeCursor(r.created_at.toISOString(), paymentId);
}

export type StuckPayment = PaymentRow & { since: string; age_s: number; why: string };

/**
 * Payments not at rest, with a PSP effect still open or a refund awaiting the PSP's notification, and
 * untouched for longer than `olderThanS`:
 * the candidates come from the read model, the verdict and the reason from the payment's own state.
 */
export async function stuckPayments(
  sql: Sql,
  olderThanS: number,
  now: Date,
  limit: number,
): Promise<StuckPayment[]> {
  const cutoff = new Date(now.getTime() - olderThanS * 1000).toISOString();
  const rows = await sql<(Raw & { state: Payment })[]>`
    select id, merchant_id, status, psp, amount, currency, captured_amount, refunded_amount, reference, last4,
      created_at, updated_at, state
    from payments
    where open and updated_at <= ${cutoff}
    order by updated_at limit ${limit * 4}`;
  const out: StuckPayment[] = [];
  for (const r of rows) {
    const why = whyStuck(r.state);
    if (!why) continue;
    const { state: _s, ...row } = r;
    out.push({
      ...toRow(row),
      since: r.updated_at.toISOString(),
      age_s: Math.round((now.getTime() - r.updated_at.getTime()) / 1000),
      why,
    });
    if (out.length >= limit) break;
  }
  return out;
}

/** Why a payment is not done, in a sentence for an on-call engineer; undefined when it is at rest. */
export function whyStuck(p: Payment): string | undefined {
  const effect = nextEffect(p);
  if (effect?.kind === "authorize") {
    const a = effect.attempt;
    return a.status === "unknown"
      ? `authorization attempt ${a.no} at ${a.psp}: outcome unknown (${a.code ?? "no answer"}); only a status query to ${a.psp} can tell`
      : `authorization attempt ${a.no} at ${a.psp} sent, no answer recorded`;
  }
  if (effect?.kind === "operation") {
    const o = effect.operation;
    return `${o.kind} ${o.id} of ${o.amount} ${p.currency}: ${o.status === "unknown" ? `outcome unknown (${o.code ?? "no answer"})` : "sent, no answer recorded"}`;
  }
  if (!RESTING.has(p.status)) return `status ${p.status} with nothing sent to a PSP yet`;
  const accepted = awaitingNotification(p);
  if (accepted)
    return `${accepted.kind} ${accepted.id} of ${accepted.amount} ${p.currency}: accepted by ${p.psp ?? "the PSP"}${accepted.pspReference ? ` as ${accepted.pspReference}` : ""}, awaiting the PSP's notification`;
  return undefined;
}
