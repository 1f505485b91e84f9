// A batch statement that joins its rows (one JSON parameter, jsonb_to_recordset) to a growing table
// by key must find them by key, whatever the table's size and whichever plan PostgreSQL keeps. The
// planner takes a JSON parameter's rows for 100 whatever it holds: for a table of a few thousand to
// ~100,000 rows it judged a hash join over a scan of the whole table cheaper than 100 lookups by
// key, and a prepared statement's generic plan, once made on a small table, is kept until the table
// is analyzed again (never, on PGlite or a server without autovacuum). The webhook sender's record of
// successes did both: PostgreSQL's CPU per payment went 0.49 → 1.10 ms from 10,000 to 100,000
// payments. Naming the keys in an array as well (`id = any($2)`), whose length the planner knows,
// keeps it on the key.
import { expect } from "chai";
import type postgres from "postgres";
import {
  claimDue,
  ingest,
  recordSuccesses,
  type Attempt,
  type Claimed,
  type StoredEntry,
} from "../../actors/webhooks/store.ts";
import type { Tx } from "../../streams/db/client.ts";
import { useTestSchema } from "../support/test-schema.ts";

const TABLE = `create table deliveries (id text primary key, status text not null default 'pending',
  attempts int not null default 0, attempt_log jsonb not null default '[]')`;

/** The record of successes' shape before: the rows joined by key, nothing else saying how many. */
const JOINED = `update deliveries d set status = 'succeeded', attempts = d.attempts + 1,
    attempt_log = d.attempt_log || v.entry
  from jsonb_to_recordset($1) as v(id text, entry jsonb) where d.id = v.id`;
/** And now: the keys as an array too. */
const KEYED = `${JOINED} and d.id = any($2)`;

/** The two parameters for these keys, as SQL literals. */
const argsOf = (ids: string[]) =>
  `'${JSON.stringify(ids.map((id) => ({ id, entry: [{ status: 200 }] })))}', '{${ids.join(",")}}'`;

/**
 * On one connection with PostgreSQL's default plan cache: the statement prepared and run often enough
 * for a generic plan while the table holds 10 rows, then the table grown to 20,000 — and the plan the
 * next execution runs.
 */
async function planAfterGrowth(sql: postgres.Sql, statement: string): Promise<string> {
  const conn = await sql.reserve();
  try {
    await conn.unsafe(`prepare record_successes(jsonb, text[]) as ${statement}`);
    await conn.unsafe(`insert into deliveries (id) select 'small' || g from generate_series(1, 10) g`);
    for (let i = 0; i < 7; i++) await conn.unsafe(`execute record_successes(${argsOf([`small${i + 1}`])})`);
    await conn.unsafe(`insert into deliveries (id) select 'grown' || g from generate_series(1, 20000) g`);
    const plan = await conn.unsafe<{ "QUERY PLAN": string }[]>(
      `explain (costs off) execute record_successes(${argsOf(["grown5"])})`,
    );
    await conn.unsafe(`deallocate record_successes`);
    return plan.map((r) => r["QUERY PLAN"]).join("\n");
  } finally {
    conn.release();
  }
}

/** `n` merchant events and a pending delivery of each to one endpoint, numbered from `from`. */
async function seedDeliveries(
  sql: postgres.Sql,
  from: number,
  n: number,
  due: "now" | "later",
): Promise<void> {
  await sql.unsafe(`insert into webhook_events (id, merchant_id, payment_id, type, created, seq, idx, appended_at, body)
    select 'evt_' || g, 'm1', 'pay_' || g, 'payment.created', now(), g, 0, now(), '{}'
    from generate_series(${from}, ${from + n - 1}) g`);
  await sql.unsafe(`insert into webhook_deliveries (id, event_id, endpoint_id, merchant_id, payment_id, seq, idx, next_attempt_at)
    select 'whd_' || g, 'evt_' || g, 'we_1', 'm1', 'pay_' || g, g, 0,
      ${due === "now" ? "now()" : "now() + interval '1 hour'"}
    from generate_series(${from}, ${from + n - 1}) g`);
}

type Reads = { seq_scan: number; idx_scan: number; idx_tup_fetch: number };

/**
 * Sequential scans, index scans and rows fetched through an index of `table` (webhook_deliveries) by
 * what `work` ran, in one transaction (rolled back).
 */
async function readsOf(
  conn: postgres.ReservedSql,
  work: () => Promise<unknown>,
  table = "webhook_deliveries",
): Promise<Reads> {
  // The backend's own table statistics not yet reported (pg_stat_xact_user_tables), before and after.
  const reads = async () => {
    const [row] = await conn<Reads[]>`
      select seq_scan::int, coalesce(idx_scan, 0)::int as idx_scan,
        coalesce(idx_tup_fetch, 0)::int as idx_tup_fetch
      from pg_stat_xact_user_tables
      where relname = ${table} and schemaname = current_schema()`;
    return row ?? { seq_scan: 0, idx_scan: 0, idx_tup_fetch: 0 };
  };
  await conn.unsafe("begin");
  try {
    const before = await reads();
    await work();
    const after = await reads();
    return {
      seq_scan: after.seq_scan - before.seq_scan,
      idx_scan: after.idx_scan - before.idx_scan,
      idx_tup_fetch: after.idx_tup_fetch - before.idx_tup_fetch,
    };
  } finally {
    await conn.unsafe("rollback");
  }
}

/**
 * Endpoint we_1, five deliveries not yet due, and the claim run often on `conn` while nothing is
 * due: the generic plan a prepared statement keeps is made on this small table.
 */
async function claimedOftenWhileSmall(sql: postgres.Sql, conn: postgres.ReservedSql): Promise<void> {
  await sql.unsafe(`insert into webhook_endpoints (id, merchant_id, url, enabled_events, secret_sealed, created_at, updated_at)
    values ('we_1', 'm1', 'http://127.0.0.1:9/hook', '{*}', 'sealed', now(), now())`);
  await seedDeliveries(sql, 1, 5, "later");
  for (let i = 0; i < 8; i++)
    expect(await claimDue(conn, { limit: 32, now: new Date(), leaseMs: 10_000 })).to.deep.equal([]);
}

describe("batch statements joined to a growing table by key", function () {
  this.timeout(30_000);
  const db = useTestSchema("plans", 2);

  it("the sender's record of successes reads webhook_deliveries by key, not whole (20,000 rows)", async () => {
    const sql = db.sql;
    await seedDeliveries(sql, 1, 20000, "now");
    const attempt: Attempt = {
      at: new Date().toISOString(),
      status: 200,
      error: null,
      latency_ms: 3,
      response: null,
    };
    const done = ["whd_7", "whd_19999", "whd_512"].map((id) => ({
      c: { delivery_id: id, endpoint_id: "we_1", failing_since: null } as unknown as Claimed,
      attempt,
    }));
    const conn = await sql.reserve();
    const reads = await readsOf(conn, () => recordSuccesses(conn, done)).finally(() => conn.release());
    await sql.begin((tx) => recordSuccesses(tx, done));
    expect(reads.seq_scan, "sequential scans of webhook_deliveries").to.equal(0);
    expect(reads.idx_scan).to.be.greaterThan(0);
    const recorded = await sql<{ id: string; status: string; attempts: number }[]>`
      select id, status, attempts from webhook_deliveries where status <> 'pending' order by id`;
    expect(recorded).to.deep.equal([
      { id: "whd_19999", status: "succeeded", attempts: 1 },
      { id: "whd_512", status: "succeeded", attempts: 1 },
      { id: "whd_7", status: "succeeded", attempts: 1 },
    ]);
  });

  it("the sender's claim, run while the table was small, reads the due deliveries by index once it has grown", async () => {
    const sql = db.sql;
    const conn = await sql.reserve();
    try {
      await claimedOftenWhileSmall(sql, conn);
      // 20,000 more, not due, and 3 due.
      await seedDeliveries(sql, 6, 20000, "later");
      await seedDeliveries(sql, 30001, 3, "now");
      let claimed: Claimed[] = [];
      const reads = await readsOf(conn, async () => {
        claimed = await claimDue(conn, { limit: 32, now: new Date(), leaseMs: 10_000 });
      });
      expect(claimed.map((c) => c.delivery_id).sort()).to.deep.equal(["whd_30001", "whd_30002", "whd_30003"]);
      expect(reads.seq_scan, "sequential scans of webhook_deliveries").to.equal(0);
    } finally {
      conn.release();
    }
  });

  it("the sender's claim reads each due delivery once, not the whole backlog for each (2,000 due)", async () => {
    // A backlog: an endpoint back after an outage, 2,000 deliveries due, one per payment. Each
    // candidate's order check (no earlier pending delivery of its endpoint and payment) must be a
    // lookup by (endpoint, payment). Written as `not exists (… (p.seq, p.idx) < (d.seq, d.idx))`, the
    // plan PostgreSQL kept from a small table passed over every pending delivery for each candidate:
    // a claim read due × pending rows (under the bench's load: 9,176 rows for 74 claimed, 12.9 % of
    // PostgreSQL's time; here ~4 million): each claim grew with the square of the backlog.
    const sql = db.sql;
    const conn = await sql.reserve();
    try {
      await claimedOftenWhileSmall(sql, conn);
      await seedDeliveries(sql, 6, 2000, "now");
      let claimed: Claimed[] = [];
      const reads = await readsOf(conn, async () => {
        claimed = await claimDue(conn, { limit: 32, now: new Date(), leaseMs: 10_000 });
      });
      expect(claimed).to.have.length(32);
      expect(
        reads.idx_tup_fetch,
        "rows of webhook_deliveries fetched by index for a claim of 32",
      ).to.be.at.most(3 * 2005);
      // And the order holds: a payment's later delivery, due earlier, waits for its first.
      await seedDeliveries(sql, 1_000_001, 1, "now");
      await sql.unsafe(`update webhook_deliveries set payment_id = 'pay_2000', seq = 2001,
        next_attempt_at = now() - interval '1 hour' where id = 'whd_1000001'`);
      const rest = await claimDue(conn, { limit: 5000, now: new Date(), leaseMs: 10_000 });
      const ids = new Set(rest.map((c) => c.delivery_id));
      expect(ids.has("whd_2000"), "the payment's first delivery").to.equal(true);
      expect(ids.has("whd_1000001"), "its later delivery, due earlier, waits").to.equal(false);
      expect(rest).to.have.length(2000); // the first claim was rolled back with its transaction
    } finally {
      conn.release();
    }
  });

  it("the dispatcher's insert, prepared while the table was small, looks up each delivery's earlier pending one by index once it has grown", async () => {
    // The hand-off's order check (a delivery is leased only when no earlier one of its endpoint and
    // payment is pending). As `not exists (…)`, the generic plan made on a small table hashed every
    // pending delivery once per statement: after an outage, a backlog read for each batch stored.
    const sql = db.sql;
    const conn = await sql.reserve();
    const handOff = { reserve: (max: number) => max, leaseMs: 10_000 };
    const batch = (n: number): StoredEntry[] => [
      {
        event: { id: `evt_b${n}`, type: "payment.captured", created: new Date().toISOString() } as never,
        merchantId: "m1",
        paymentId: `pay_b${n}`,
        eventNo: 1,
        idx: 0,
        seq: 100_000 + n,
        appendedAt: new Date(),
        traceparent: null,
      },
    ];
    try {
      await claimedOftenWhileSmall(sql, conn);
      for (let i = 0; i < 8; i++) await ingest(conn as unknown as Tx, batch(i), new Date(), handOff);
      // A backlog: 20,000 pending deliveries (an endpoint that was down), due now.
      await seedDeliveries(sql, 6, 20000, "now");
      let handed = 0;
      const reads = await readsOf(conn, async () => {
        const r = await ingest(conn as unknown as Tx, batch(9), new Date(), handOff);
        handed = r.handed.flat().length;
      });
      expect(handed, "the new payment's delivery, leased").to.equal(1);
      expect(reads.seq_scan, "sequential scans of webhook_deliveries").to.equal(0);
      expect(reads.idx_tup_fetch, "rows of webhook_deliveries fetched for one batch").to.be.below(100);
      // The leased delivery's body comes back from its event's insert, not from a scan of every event.
      const events = await readsOf(
        conn,
        () => ingest(conn as unknown as Tx, batch(10), new Date(), handOff),
        "webhook_events",
      );
      expect(events.seq_scan, "sequential scans of webhook_events").to.equal(0);
    } finally {
      conn.release();
    }
  });

  it("keyed, it stays on the key when prepared on a small table; joined only, it keeps scanning the table", async () => {
    const sql = db.sql;
    await sql.unsafe(TABLE);
    const keyed = await planAfterGrowth(sql, KEYED);
    expect(keyed, keyed).to.match(/Index Scan using deliveries_pkey/);
    expect(keyed, keyed).to.not.match(/Seq Scan on deliveries/);
    await sql.unsafe(`truncate deliveries`);
    const joined = await planAfterGrowth(sql, JOINED);
    expect(joined, joined).to.match(/Seq Scan on deliveries/);
  });
});
