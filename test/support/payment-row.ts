// A payments read-model row as wide as a real one: a captured card payment's state is ~1.9 KB of
// JSON, ~2.3 KB as jsonb (migration 015). Written straight to the table, for tests of its storage.
import type { Sql } from "../../streams/db/client.ts";

/** A state of a real one's size and shape (its routing explanation is most of it). */
function wideState(id: string): Record<string, unknown> {
  return {
    id,
    merchantId: "m1",
    status: "captured",
    amount: 4990,
    currency: "EUR",
    card: { brand: "visa", last4: "4242", binCountry: "US", fingerprint: "cf".repeat(16) },
    attempts: [{ no: 1, psp: "acme", status: "authorized", pspReference: `acme_${id}`, expectedFee: 12 }],
    routing: {
      policyVersion: 3,
      candidates: Array.from({ length: 8 }, (_, i) => ({
        psp: `psp${i}`,
        rule: `rule-${i}`,
        reason: `matched rule ${i}: currency EUR, card brand visa, BIN country US, amount band ${i}`,
        fee: { fixed: 25, percentBp: 140 + i, cap: null },
        score: 0.5 + i / 100,
      })),
    },
    operations: [],
    createdAt: "2026-12-07T10:00:00.000Z",
    updatedAt: "2026-12-07T10:00:00.100Z",
  };
}

/** Writes the row; resolves to how PostgreSQL stored its state (`pg_column_compression`: null = not compressed). */
export async function storeWidePayment(
  sql: Sql,
  id: string,
): Promise<{ compression: string | null; bytes: number }> {
  await sql`insert into payments (id, merchant_id, status, amount, currency, created_at, updated_at, last_seq, state)
    values (${id}, 'm1', 'captured', 4990, 'EUR', now(), now(), 1, ${sql.json(wideState(id) as never)})`;
  const [row] = await sql<{ compression: string | null; bytes: number; raw: number }[]>`
    select pg_column_compression(state) as compression, pg_column_size(state) as bytes
    from payments where id = ${id}`;
  if (!row) throw new Error(`payment ${id} not stored`);
  return { compression: row.compression, bytes: row.bytes };
}
