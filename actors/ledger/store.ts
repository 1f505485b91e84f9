// The ledger journal in PostgreSQL: entries written by the read models (payments, settlement,
// reconciliation) in their own transactions, idempotently by entry id; and the queries operators
// run — the trial balance and the export. Every entry is checked to balance before it is written.
import { rowsParam, type Sql, type Tx } from "../../streams/db/client.ts";
import { assertBalanced, type JournalEntry } from "./core/postings.ts";

export async function insertEntries(tx: Tx, entries: readonly JournalEntry[]): Promise<void> {
  if (entries.length === 0) return;
  for (const e of entries) assertBalanced(e);
  const heads = entries.map((e) => ({
    id: e.id,
    at: e.at,
    kind: e.kind,
    payment_id: e.paymentId,
    currency: e.currency,
    description: e.description,
    sources: e.sources,
  }));
  const lines = entries.flatMap((e) =>
    e.postings.map((p, n) => ({
      entry_id: e.id,
      n,
      account: p.account,
      currency: e.currency,
      debit: p.debit,
      credit: p.credit,
      at: e.at,
    })),
  );
  // One statement, one round trip: the postings of the entries this statement inserted, none of an
  // entry stored before (a replayed batch). The foreign key is checked at the statement's end, when
  // the entries the CTE inserted are there.
  await tx`
    with fresh as (
      insert into ledger_entries (id, at, kind, payment_id, currency, description, sources)
      select * from jsonb_to_recordset(${rowsParam(tx, heads)}) as r(id text, at timestamptz, kind text,
        payment_id text, currency text, description text, sources text[])
      on conflict (id) do nothing returning id)
    insert into ledger_postings (entry_id, n, account, currency, debit, credit, at)
    select p.* from jsonb_to_recordset(${rowsParam(tx, lines)}) as p(entry_id text, n int,
      account text, currency text, debit bigint, credit bigint, at timestamptz)
    where p.entry_id in (select id from fresh)`;
}

/** Sums in bigint: exact at any size (PostgreSQL sums in numeric, read here as text). */
export type BalanceRow = {
  account: string;
  currency: string;
  debit: bigint;
  credit: bigint;
  balance: bigint;
};

/** Each account's debits and credits up to `at` (inclusive), per currency. */
export async function trialBalance(sql: Sql, at: string): Promise<BalanceRow[]> {
  const rows = await sql<{ account: string; currency: string; debit: string; credit: string }[]>`
    select account, currency, sum(debit)::text as debit, sum(credit)::text as credit
    from ledger_postings where at <= ${at}
    group by account, currency order by currency, account`;
  return rows.map((r) => {
    const debit = BigInt(r.debit);
    const credit = BigInt(r.credit);
    return { account: r.account, currency: r.currency, debit, credit, balance: debit - credit };
  });
}

export type CurrencyTotal = { currency: string; debit: bigint; credit: bigint; balanced: boolean };

/** Debits and credits per currency over the accounts, in bigint: balanced when they are equal. */
export function totalsOf(accounts: readonly BalanceRow[]): CurrencyTotal[] {
  const by = new Map<string, CurrencyTotal>();
  for (const a of accounts) {
    const t = by.get(a.currency) ?? { currency: a.currency, debit: 0n, credit: 0n, balanced: true };
    t.debit += a.debit;
    t.credit += a.credit;
    t.balanced = t.debit === t.credit;
    by.set(a.currency, t);
  }
  return [...by.values()];
}

/** A sum the API cannot give as a JSON number without rounding it. */
export class LedgerRangeError extends Error {
  override name = "LedgerRangeError";
}

/** The bigint as a number when it is exact; else LedgerRangeError naming what it is. */
export function exactNumber(n: bigint, what: string): number {
  if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < -BigInt(Number.MAX_SAFE_INTEGER))
    throw new LedgerRangeError(`${what} is ${n}, past 2^53: not given as a JSON number`);
  return Number(n);
}
