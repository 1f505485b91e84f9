// PostgreSQL for the read models (payment search, settlement lines, reconciliation exceptions, the
// ledger journal), which are projections of JetStream streams and can be dropped and rebuilt, and
// for the records that are not: the merchants' webhook endpoints, the webhook events and their
// deliveries (the work queue and its attempt log), the frames followers set aside, the settlement
// ingest claims. One schema per deployment (and per test run), named from the prefix,
// so runs never share state. One client per process and URL: every role in one process shares it
// (the embedded PGlite of `npm start` takes one connection at a time).
import postgres from "postgres";
import type { Logger } from "../../config/log.ts";
import { migrate } from "./migrate.ts";

export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;

export type DbOptions = {
  url: string;
  schema: string;
  /** Pool size; 1 against an embedded PGlite. */
  max: number;
};

export type Db = {
  sql: Sql;
  schema: string;
  close(): Promise<void>;
};

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** A schema name goes into a statement's text only as a plain lower-case identifier. */
function checkSchemaName(schema: string): void {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`invalid database schema name ${schema}`);
}

type Shared = { db: Promise<Db>; users: number };
const shared = new Map<string, Shared>();

/** Open (or share) the process's client for this URL and schema; the schema is created and migrated. */
export function openDb(opts: DbOptions, log: Logger): Promise<Db> {
  const key = `${opts.url}#${opts.schema}`;
  const found = shared.get(key);
  if (found) {
    found.users += 1;
    return found.db;
  }
  const entry: Shared = { users: 1, db: connect(opts, log) };
  shared.set(key, entry);
  entry.db.catch(() => shared.delete(key));
  return entry.db.then((db) => ({
    ...db,
    async close() {
      entry.users -= 1;
      if (entry.users > 0) return;
      shared.delete(key);
      await db.close();
    },
  }));
}

async function connect(opts: DbOptions, log: Logger): Promise<Db> {
  checkSchemaName(opts.schema);
  const sql = postgres(opts.url, {
    max: opts.max,
    onnotice: () => undefined,
    connect_timeout: 5,
    idle_timeout: 0,
    // bigint columns hold minor units: read them as numbers (amounts stay below 2^53; sums are
    // cast back to bigint in the queries, and a value past 2^53 fails loudly rather than rounds).
    types: {
      bigint: {
        to: 20,
        from: [20],
        serialize: (x: number) => String(x),
        parse: (x: string) => {
          const n = Number(x);
          if (!Number.isSafeInteger(n)) throw new RangeError(`bigint ${x} is past 2^53`);
          return n;
        },
      },
    },
    transform: { undefined: null },
    connection: { application_name: "switchyard", search_path: opts.schema },
  });
  try {
    await ensureSchema(sql, opts.schema);
    await migrate(sql, opts.schema, log);
    // PGlite ignores startup parameters (search_path, application_name), but its one backend
    // session outlives the socket connections, so setting the path once holds for all of them.
    const [shown] = await sql<{ path: string }[]>`select current_setting('search_path') as path`;
    if (shown?.path !== opts.schema) await sql.unsafe(`set search_path to ${opts.schema}`);
  } catch (err) {
    await sql.end({ timeout: 1 }).catch(() => undefined);
    throw err;
  }
  return {
    sql,
    schema: opts.schema,
    async close() {
      await sql.end({ timeout: 5 });
    },
  };
}

/**
 * `create schema if not exists`, safe when several processes start at once (the Procfile's roles):
 * two such statements racing on a new name can both pass the "not exists" check, and the second then
 * fails on pg_namespace's unique index (23505) — a role that could not start. Under an advisory lock
 * of the schema's own, they run one after the other; the lock ends with the transaction.
 */
export async function ensureSchema(sql: Sql, schema: string): Promise<void> {
  checkSchemaName(schema);
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext(${`switchyard:schema:${schema}`}))`;
    await tx.unsafe(`create schema if not exists ${schema}`);
  });
}

/** Drop a schema and everything in it (tests and benchmarks clean up after themselves). */
export async function dropSchema(url: string, schema: string): Promise<void> {
  checkSchemaName(schema);
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    await sql.unsafe(`drop schema if exists ${schema} cascade`);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/**
 * Rows for one fixed-text multi-row statement: `jsonb_to_recordset(${rowsParam(tx, rows)}) as
 * r(<column> <type>, …)`. A `${tx(rows)}` VALUES list has a statement text per row count, each new to
 * its connection (a Parse and Describe round trip before the Bind, and a prepared statement kept per
 * count); one JSON parameter keeps one text, prepared once per connection, and one JSON.stringify
 * for the whole batch. Dates become ISO strings, which the recordset's timestamptz columns read.
 * Joined to a table by key (an update … from), name the keys as an array too (`and t.id =
 * any(${ids})`): the planner counts the recordset as 100 rows whatever it holds and may scan the whole
 * table instead (actors/webhooks/store.ts recordSuccesses; test/int/db-plan-cache.int.spec.ts).
 */
export function rowsParam(tx: Sql | Tx, rows: readonly object[]): postgres.Parameter {
  return tx.json(rows as unknown as Parameters<Tx["json"]>[0]);
}
