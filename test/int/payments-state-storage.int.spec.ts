// How the payments read model stores a payment's state (migration 015): a real state is past the
// size at which PostgreSQL compresses a row's wide values, and pglz — the default — made every write
// of the busiest read model compress it and every read decompress it. On a server with lz4 the state
// is compressed with lz4; the embedded PGlite, built without it, keeps the row whole (test/int/
// local-postgres.int.spec.ts).
import { expect } from "chai";
import { storeWidePayment } from "../support/payment-row.ts";
import { useTestSchema } from "../support/test-schema.ts";

describe("the payments read model's state column (PostgreSQL server)", function () {
  this.timeout(20_000);
  const db = useTestSchema("pstate", 1);

  it("compresses a payment's state with lz4, not pglz", async () => {
    const [col] = await db.sql<{ c: string }[]>`
      select attcompression as c from pg_attribute
      where attrelid = 'payments'::regclass and attname = 'state'`;
    expect(col?.c).to.equal("l");
    const stored = await storeWidePayment(db.sql, "pay_wide");
    expect(stored.compression).to.equal("lz4");
    // Still read back whole.
    const [row] = await db.sql<{ n: number }[]>`
      select jsonb_array_length(state->'routing'->'candidates') as n from payments where id = 'pay_wide'`;
    expect(row?.n).to.equal(8);
  });
});
