// The platform's own table upkeep against the real server: whether it is needed follows the server's
// autovacuum; a round vacuums the table with dead rows past the threshold (its dead rows gone, the
// planner's statistics made) and analyzes the one changed past its own, and then has nothing to do.
import { expect } from "chai";
import pino from "pino";
import { createMetrics } from "../../config/metrics.ts";
import { TableUpkeep } from "../../streams/db/upkeep.ts";
import { useTestSchema } from "../support/test-schema.ts";
import { waitFor } from "../support/wait.ts";

describe("database upkeep where no autovacuum runs", function () {
  this.timeout(30_000);
  const log = pino({ level: "silent" });
  // One connection: the statistics it reports are flushed before the round reads them.
  const db = useTestSchema("upkeep", 1);

  it("is needed exactly when the server's autovacuum is off", async () => {
    const sql = db.sql;
    const [row] = await sql<{ on: boolean }[]>`select current_setting('autovacuum') = 'on' as on`;
    const upkeep = new TableUpkeep({ sql, log, metrics: createMetrics() });
    expect(await upkeep.needed()).to.equal(!row?.on);
  });

  it("vacuums the table with dead rows, analyzes the changed one, then has nothing to do", async () => {
    const sql = db.sql;
    await sql.unsafe(`create table churn (id int primary key, v int not null default 0)`);
    await sql.unsafe(`create table grown (id int primary key)`);
    await sql.unsafe(`insert into churn (id) select g from generate_series(1, 1000) g`);
    await sql.unsafe(`update churn set v = 1 where id <= 600`);
    await sql.unsafe(`insert into grown (id) select g from generate_series(1, 500) g`);
    await sql`select pg_stat_force_next_flush()`;
    await sql`select 1`;
    const metrics = createMetrics();
    const upkeep = new TableUpkeep({ sql, log, metrics });
    const done = await upkeep.round();
    expect(
      done.map(({ table, action }) => ({ table, action })).sort((a, b) => a.table.localeCompare(b.table)),
    ).to.deep.equal([
      { table: "churn", action: "vacuum" },
      { table: "grown", action: "analyze" },
    ]);
    const after = await sql<{ table: string; dead: number; vacuumed: boolean; analyzed: boolean }[]>`
      select relname as table, n_dead_tup::int as dead, last_vacuum is not null as vacuumed,
        last_analyze is not null as analyzed
      from pg_stat_user_tables where schemaname = ${db.schema} and relname in ('churn', 'grown') order by relname`;
    expect(after).to.deep.equal([
      { table: "churn", dead: 0, vacuumed: true, analyzed: true },
      { table: "grown", dead: 0, vacuumed: false, analyzed: true },
    ]);
    // The planner's statistics exist now (what a cached plan is judged against).
    const [stats] = await sql<{ n: number }[]>`
      select count(*)::int as n from pg_stats where schemaname = ${db.schema} and tablename = 'churn'`;
    expect(stats?.n).to.be.greaterThan(0);
    expect(await upkeep.round()).to.deep.equal([]);
    const counted = await metrics.dbUpkeep.get();
    expect(counted.values.map((v) => [v.labels.table, v.labels.action, v.value]).sort()).to.deep.equal([
      ["churn", "vacuum", 1],
      ["grown", "analyze", 1],
    ]);
    // Its time too, per table and action, as the round measured it.
    const spent = (await metrics.dbUpkeepSeconds.get()).values;
    expect(spent.map((v) => [v.labels.table, v.labels.action]).sort()).to.deep.equal([
      ["churn", "vacuum"],
      ["grown", "analyze"],
    ]);
    for (const { table, ms } of done) {
      const s = spent.find((v) => v.labels.table === table)!.value;
      expect(s, table).to.be.greaterThan(0);
      expect(Math.round(s * 1000), table).to.be.closeTo(ms, 1);
    }
  });

  it("once started, runs its rounds on its own until stopped", async () => {
    const sql = db.sql;
    await sql.unsafe(`create table churn (id int primary key, v int not null default 0)`);
    await sql.unsafe(`insert into churn (id) select g from generate_series(1, 1000) g`);
    await sql.unsafe(`update churn set v = 1 where id <= 600`);
    await sql`select pg_stat_force_next_flush()`;
    await sql`select 1`;
    const metrics = createMetrics();
    const upkeep = new TableUpkeep({ sql, log, metrics, everyMs: 20 });
    const [row] = await sql<{ on: boolean }[]>`select current_setting('autovacuum') = 'on' as on`;
    if (row?.on) {
      // A server whose autovacuum runs: no rounds at all.
      expect(await upkeep.start()).to.equal(false);
      return;
    }
    expect(await upkeep.start()).to.equal(true);
    try {
      await waitFor(
        async () =>
          (await metrics.dbUpkeep.get()).values.some((v) => v.labels.table === "churn") || undefined,
        { timeoutMs: 10_000, what: "a round of its own to vacuum churn" },
      );
    } finally {
      await upkeep.stop();
    }
    const [after] = await sql<{ dead: number }[]>`
      select n_dead_tup::int as dead from pg_stat_user_tables
      where schemaname = ${db.schema} and relname = 'churn'`;
    expect(after?.dead).to.equal(0);
  });
});
