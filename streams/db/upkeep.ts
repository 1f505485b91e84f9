// Table upkeep where no autovacuum runs: PGlite (`npm start`'s embedded database: one standalone
// backend, no background workers) and a server with `autovacuum = off` (this project's CI machines).
// Without it nothing ever analyzes the platform's tables nor reclaims their dead rows: the planner
// keeps estimating a table as it was when first planned (a webhook delivery's record read all of
// webhook_deliveries per batch, PostgreSQL's CPU per payment doubling from 10,000 to 100,000
// payments), and every update (a delivery leased then succeeded, a payment's status) leaves a dead
// row that stays. Every UPKEEP_EVERY_MS it does for the schema's tables what autovacuum would, with
// autovacuum's default thresholds: VACUUM (ANALYZE) a table whose dead rows exceed 50 + 20 % of its
// live ones, ANALYZE one changed by more than 50 + 10 % since its last analyze. Where autovacuum
// runs it does nothing. Several processes may run it: SKIP_LOCKED leaves a table another is on.
import type { Logger } from "../../config/log.ts";
import type { Metrics } from "../../config/metrics.ts";
import type { Sql } from "./client.ts";

export const UPKEEP_EVERY_MS = 30_000;

/** autovacuum_vacuum_threshold / _scale_factor and autovacuum_analyze_threshold / _scale_factor. */
const VACUUM_BASE = 50;
const VACUUM_SCALE = 0.2;
const ANALYZE_BASE = 50;
const ANALYZE_SCALE = 0.1;

/** Only a plain lower-case name is put into a statement (the tables are the migrations'). */
const PLAIN_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export type TableStats = { table: string; live: number; dead: number; changedSinceAnalyze: number };
export type UpkeepAction = { table: string; action: "vacuum" | "analyze"; ms: number };

/** What autovacuum would do with these tables now (a pure function of their statistics). */
export function upkeepDue(
  stats: readonly TableStats[],
): Array<{ table: string; action: "vacuum" | "analyze" }> {
  const due: Array<{ table: string; action: "vacuum" | "analyze" }> = [];
  for (const s of stats) {
    if (!PLAIN_NAME.test(s.table)) continue;
    if (s.dead > VACUUM_BASE + VACUUM_SCALE * s.live) due.push({ table: s.table, action: "vacuum" });
    else if (s.changedSinceAnalyze > ANALYZE_BASE + ANALYZE_SCALE * s.live)
      due.push({ table: s.table, action: "analyze" });
  }
  return due;
}

export type UpkeepOptions = {
  sql: Sql;
  log: Logger;
  metrics: Pick<Metrics, "dbUpkeep" | "dbUpkeepSeconds">;
  everyMs?: number;
};

export class TableUpkeep {
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<unknown> | undefined;
  #stopped = false;
  readonly #everyMs: number;

  constructor(private readonly o: UpkeepOptions) {
    this.#everyMs = o.everyMs ?? UPKEEP_EVERY_MS;
  }

  /**
   * Whether this database needs it: no autovacuum will come (PGlite's standalone backend, or the
   * server's autovacuum off).
   */
  async needed(): Promise<boolean> {
    const [row] = await this.o.sql<{ autovacuum: string; backend: string | null }[]>`
      select current_setting('autovacuum') as autovacuum,
        (select backend_type from pg_stat_activity where pid = pg_backend_pid()) as backend`;
    return row?.autovacuum !== "on" || row.backend === "standalone backend";
  }

  /** Starts the rounds when this database needs them; resolves to whether it did. */
  async start(): Promise<boolean> {
    if (!(await this.needed())) return false;
    this.o.log.info(
      { everyMs: this.#everyMs },
      "database upkeep: no autovacuum runs here; the platform vacuums and analyzes its own tables",
    );
    // As the challenge expiry's sweep: a round still running when the next is due is not doubled.
    this.#timer = setInterval(() => {
      this.#round ??= this.round()
        .catch((err: unknown) => this.o.log.warn({ err }, "database upkeep round failed; next round"))
        .finally(() => (this.#round = undefined));
    }, this.#everyMs);
    this.#timer.unref();
    return true;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#round;
  }

  /** One round: the schema's tables' statistics, then what is due, one table at a time. */
  async round(): Promise<UpkeepAction[]> {
    const stats = await this.o.sql<TableStats[]>`
      select relname as table, n_live_tup::float8 as live, n_dead_tup::float8 as dead,
        n_mod_since_analyze::float8 as "changedSinceAnalyze"
      from pg_stat_user_tables where schemaname = current_schema()`;
    const done: UpkeepAction[] = [];
    for (const { table, action } of upkeepDue(stats)) {
      if (this.#stopped) break;
      const t0 = performance.now();
      await this.o.sql.unsafe(
        action === "vacuum" ? `vacuum (analyze, skip_locked) ${table}` : `analyze (skip_locked) ${table}`,
      );
      const elapsed = performance.now() - t0;
      const ms = Math.round(elapsed);
      this.o.metrics.dbUpkeep.inc({ table, action });
      this.o.metrics.dbUpkeepSeconds.inc({ table, action }, elapsed / 1000);
      done.push({ table, action, ms });
    }
    if (done.length > 0) this.o.log.info({ tables: done }, "database upkeep: tables vacuumed or analyzed");
    return done;
  }
}
