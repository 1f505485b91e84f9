// The schema made by processes starting at once (the Procfile's gateway, worker and projector against
// a new SWITCHYARD_DB_SCHEMA): plain `create schema if not exists` statements racing on one name can
// fail with 23505 on pg_namespace's unique index, and a role then stops with "could not start" (seen
// in a CI run of the built roles). Each client here is its own pool, as each process has.
import { expect } from "chai";
import postgres from "postgres";
import { dropSchema, ensureSchema } from "../../streams/db/client.ts";
import { DATABASE_URL, uniquePrefix } from "../support/infra.ts";

const CLIENTS = 8;
const ROUNDS = 5;

describe("the schema, made by several processes at once", function () {
  this.timeout(30_000);
  const clients = Array.from({ length: CLIENTS }, () =>
    postgres(DATABASE_URL, { max: 1, onnotice: () => undefined }),
  );
  const schemas: string[] = [];

  before(async () => {
    // Connected first, so the statements below start together rather than in connection order.
    await Promise.all(clients.map((sql) => sql`select 1`));
  });
  after(async () => {
    await Promise.all(clients.map((sql) => sql.end({ timeout: 1 })));
    for (const s of schemas) await dropSchema(DATABASE_URL, s);
  });

  it("is made once and every client goes on, round after round", async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const schema = `sy_${uniquePrefix()}_race${round}`;
      schemas.push(schema);
      const results = await Promise.allSettled(clients.map((sql) => ensureSchema(sql, schema)));
      const refused = results.filter((r) => r.status === "rejected");
      expect(
        refused.map((r) => String(r.reason)),
        `round ${round}`,
      ).to.deep.equal([]);
      const [row] = await clients[0]!<{ n: number }[]>`
        select count(*)::int as n from pg_namespace where nspname = ${schema}`;
      expect(row?.n).to.equal(1);
    }
  });

  it("refuses a name that is not a plain lower-case identifier, before any statement", async () => {
    for (const bad of ["Upper", "a;drop schema public", "", "x".repeat(64), "a-b", "é"])
      await ensureSchema(clients[0]!, bad).then(
        () => expect.fail(`accepted ${JSON.stringify(bad)}`),
        (err: unknown) => expect(String(err)).to.include("invalid database schema name"),
      );
  });
});
