// A PostgreSQL schema of the test's own (migrated by openDb, as the platform's), made before each
// test and dropped after it, with no NATS or Redis. Call inside a `describe`; read `sql` and
// `schema` inside the tests.
import pino from "pino";
import { dropSchema, openDb, type Db, type Sql } from "../../streams/db/client.ts";
import { DATABASE_URL, uniquePrefix } from "./infra.ts";

export type TestSchema = { readonly sql: Sql; readonly schema: string };

/** `max`: the pool's connections (1: every statement on one, so its statistics are flushed in order). */
export function useTestSchema(suffix: string, max: number): TestSchema {
  let db: Db | undefined;
  let schema = "";
  beforeEach(async () => {
    schema = `sy_${uniquePrefix()}_${suffix}`;
    db = await openDb({ url: DATABASE_URL, schema, max }, pino({ level: "silent" }));
  });
  afterEach(async () => {
    await db?.close();
    db = undefined;
    await dropSchema(DATABASE_URL, schema);
  });
  return {
    get sql(): Sql {
      if (!db) throw new Error("no test schema outside a test");
      return db.sql;
    },
    get schema(): string {
      return schema;
    },
  };
}
