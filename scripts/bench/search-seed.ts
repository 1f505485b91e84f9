// The search bench's read-model rows, written straight into PostgreSQL (the payments projection would
// take an hour to fold a million payments on this machine, and the search only reads the rows): N
// payments spread as an operator's table is — ~50 merchants, mostly captured or authorized, some
// declined, failed or refunded, a few stuck mid-authorization — with a small valid Payment state
// (actors/payment/core/state.ts), and a couple of settlement lines for each payment the timeline reads.
// The spread is a fixed function of n (multiplicative hashing), so every run seeds the same table.
import type { Sql } from "../../streams/db/client.ts";
import { paymentId } from "./settlement-seed.ts";

export const MERCHANTS = 50;
export const CURRENCIES = ["EUR", "GBP", "USD", "JPY"] as const;
export const LAST4S = ["4242", "1881", "0005", "5100", "3222", "9995", "0077", "1117"] as const;
export const PSPS = ["acme", "bolt"] as const;
/** Where the seeded creation times end; they go back 90 days from here. */
export const SEED_END = new Date("2026-12-01T00:00:00.000Z");
export const SEED_DAYS = 90;
export const merchantOf = (i: number) => `m_${String(i % MERCHANTS).padStart(2, "0")}`;
export const referenceOf = (n: number) => `order-${n}`;

/**
 * Insert payments 1..n (`pay_seed_<n>`) and analyze the table. Status by h = n·7919 mod 1000:
 * captured 60 %, authorized 15 %, declined 10 %, failed 5 %, refunded 5 %, partially refunded 4 %,
 * canceled 0.5 %, authorizing (an attempt pending: what the stuck query looks for) 0.5 %.
 */
export async function seedPaymentRows(sql: Sql, n: number): Promise<void> {
  const end = SEED_END.toISOString();
  await sql`
    insert into payments (id, merchant_id, status, psp, amount, currency, captured_amount, refunded_amount,
      reference, last4, brand, bin_country, created_at, updated_at, last_seq, state, open)
    select id, merchant_id, status, psp, amount, currency, captured, refunded, reference, last4, 'visa', 'DE',
      created_at, updated_at, 0,
      jsonb_build_object(
        'id', id, 'merchantId', merchant_id, 'status', status, 'requestFingerprint', 'fp_' || g,
        'amount', amount, 'currency', currency, 'capture', 'automatic',
        'capturedAmount', captured, 'refundedAmount', refunded,
        'card', jsonb_build_object('brand', 'visa', 'last4', last4, 'binCountry', 'DE',
          'fingerprint', 'cf_' || (g % 997), 'expMonth', 12, 'expYear', 2030),
        'reference', reference, 'candidates', jsonb_build_array(psp), 'routingStrategy', 'bench', 'psp', psp,
        'attempts', jsonb_build_array(jsonb_build_object('no', 1, 'psp', psp, 'idempotencyKey', id || ':1',
          'status', attempt, 'requestedAt', created_at, 'completedAt',
          case when attempt = 'pending' then null else updated_at end)),
        'operations', '[]'::jsonb, 'createdAt', created_at, 'updatedAt', updated_at),
      attempt = 'pending'
    from (
      select g, id, merchant_id, status, psp, amount, currency, reference, last4, created_at,
        created_at + interval '2 seconds' as updated_at,
        case when status in ('captured', 'refunded', 'partially_refunded') then amount else 0 end as captured,
        case status when 'refunded' then amount when 'partially_refunded' then amount / 2 else 0 end as refunded,
        case status when 'authorizing' then 'pending' when 'declined' then 'declined'
          when 'failed' then 'failed' else 'authorized' end as attempt
      from (
        select g, 'pay_seed_' || g as id,
          'm_' || lpad(((g * 40503) % ${MERCHANTS})::text, 2, '0') as merchant_id,
          case when h < 600 then 'captured' when h < 750 then 'authorized' when h < 850 then 'declined'
            when h < 900 then 'failed' when h < 950 then 'refunded' when h < 990 then 'partially_refunded'
            when h < 995 then 'canceled' else 'authorizing' end as status,
          (array['acme', 'bolt'])[1 + (g * 31) % 2] as psp,
          100 + (g * 2654435761) % 999901 as amount,
          (array['EUR', 'GBP', 'USD', 'JPY'])[1 + (g * 17) % 4] as currency,
          'order-' || g as reference,
          (array['4242', '1881', '0005', '5100', '3222', '9995', '0077', '1117'])[1 + (g * 13) % 8] as last4,
          ${end}::timestamptz - ((g * 2246822519) % ${SEED_DAYS * 86_400}) * interval '1 second' as created_at
        from (select g::bigint as g, (g::bigint * 7919) % 1000 as h from generate_series(1, ${n}) g) s
      ) p
    ) q`;
  await sql`analyze payments`;
}

/** Two settlement lines (a charge, and a repeat of it in a later report) for payments 1..k of PAY_EVT. */
export async function seedSettlementLines(sql: Sql, k: number): Promise<void> {
  const prefix = paymentId(0).slice(0, -1);
  await sql`
    insert into settlement_lines (psp, report_id, line_no, line_id, kind, psp_reference, payment_id,
      currency, amount, fee, expected_fee, net, batch, payout_id, brand, bin_country, created_at, outcome)
    select 'acme', r.report_id, g, 'txn_' || g, 'charge', 'ch_' || g, ${prefix} || g, 'EUR', 1000, 39, 39, 961,
      'b_1', 'po_bench', 'visa', 'DE', ${SEED_END.toISOString()}::timestamptz + r.days * interval '1 day', r.outcome
    from generate_series(1, ${k}) g,
      (values ('bench_r1', 1, 'matched'), ('bench_r2', 2, 'duplicate')) as r(report_id, days, outcome)`;
  await sql`analyze settlement_lines`;
}
