// The ledger journal in PostgreSQL: entries written by the read models (payments, settlement,
// reconciliation) in their own transactions, idempotently by entry id; and the queries operators
// run — the trial balance and the export. Every entry is checked to balance before it is written.
import type { Sql, Tx } from "../../streams/db/client.ts";
import { assertBalanced, type JournalEntry } from "./postings.ts";

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
  const inserted = await tx<{ id: string }[]>`
    insert into ledger_entries ${tx(heads)}
    on conflict (id) do nothing returning id`;
  if (inserted.length === 0) return;
  const fresh = new Set(inserted.map((r) => r.id));
  const lines = entries
    .filter((e) => fresh.has(e.id))
    .flatMap((e) =>
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
  if (lines.length > 0) await tx`insert into ledger_postings ${tx(lines)}`;
}

export type BalanceRow = {
  account: string;
  currency: string;
  debit: number;
  credit: number;
  balance: number;
};

/** Each account's debits and credits up to `at` (inclusive), per currency. */
export async function trialBalance(sql: Sql, at: string): Promise<BalanceRow[]> {
  return sql<BalanceRow[]>`
    select account, currency, sum(debit)::bigint as debit, sum(credit)::bigint as credit,
      (sum(debit) - sum(credit))::bigint as balance
    from ledger_postings where at <= ${at}
    group by account, currency order by currency, account`;
}
