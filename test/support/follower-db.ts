// A follower's test bench: the services (openInfra: its own prefix), a PostgreSQL schema of the
// prefix's name holding a table made by `ddl`, and the follower under test stopped afterwards — set
// up before each test and dropped after it. Call inside a `describe`.
import { openDb, dropSchema, type Db } from "../../streams/db/client.ts";
import type { Follower } from "../../streams/db/follower.ts";
import { DATABASE_URL, openInfra, type Infra } from "./infra.ts";

export type FollowerDb = { infra: Infra; db: Db; follower: Follower | undefined };

export function useFollowerDb(ddl: string): FollowerDb {
  const t = {} as FollowerDb;
  beforeEach(async () => {
    t.infra = await openInfra();
    t.db = await openDb({ url: DATABASE_URL, schema: `sy_${t.infra.prefix}`, max: 2 }, t.infra.log);
    await t.db.sql.unsafe(ddl);
    t.follower = undefined;
  });
  afterEach(async () => {
    await t.follower?.stop();
    await t.db.close();
    await dropSchema(DATABASE_URL, `sy_${t.infra.prefix}`);
    await t.infra.close();
  });
  return t;
}
