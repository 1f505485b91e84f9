// The embedded PostgreSQL of `npm start`: PGlite behind its socket server, reached by the
// platform's own client (openDb: search_path, migrations, a pool of one) and kept on disk.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import { pino } from "pino";
import { openDb } from "../../streams/db/client.ts";
import { TableUpkeep } from "../../streams/db/upkeep.ts";
import { createMetrics } from "../../config/metrics.ts";
import { migrations } from "../../streams/db/migrate.ts";
import {
  EmbeddedPostgresError,
  ensurePostgres,
  probePostgres,
  startEmbeddedPostgres,
  type EmbeddedPostgres,
} from "../../scripts/local-postgres.ts";
import { freePort } from "../../scripts/free-port.ts";
import { storeWidePayment } from "../support/payment-row.ts";

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

describe("the embedded PostgreSQL (PGlite) of npm start", function () {
  // PGlite loads and initialises a WebAssembly PostgreSQL: seconds, not milliseconds.
  this.timeout(60_000);

  let dir: string;
  let pg: EmbeddedPostgres | undefined;
  const schema = `sy_pgl_${randomBytes(4).toString("hex")}`;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "switchyard-pglite-"));
  });
  afterEach(async () => {
    await pg?.stop();
    pg = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves the platform's client with a pool of one: migrations, search_path and a transaction", async () => {
    pg = await startEmbeddedPostgres({ dataDir: join(dir, "pglite"), host: "127.0.0.1", port: 0 });
    expect(await probePostgres("127.0.0.1", Number(new URL(pg.url).port))).to.equal("postgres");

    const db = await openDb({ url: pg.url, schema, max: 1 }, log);
    try {
      // Unqualified names resolve in the schema, as against a real server.
      const [path] = await db.sql<{ path: string }[]>`select current_setting('search_path') as path`;
      expect(path?.path).to.equal(schema);
      await db.sql.begin(async (tx) => {
        await tx`insert into projection_offsets (name, last_seq) values ('test', 41)`;
        await tx`update projection_offsets set last_seq = last_seq + 1 where name = 'test'`;
      });
      const rows = await db.sql<
        { last_seq: number }[]
      >`select last_seq from projection_offsets where name = 'test'`;
      expect(rows.map((r) => r.last_seq)).to.deep.equal([42]);
      // Built without lz4: a payment's state, past the size at which pglz would compress it, is kept
      // whole in its row (migration 015), so no write or read of the read model runs pglz here.
      const stored = await storeWidePayment(db.sql, "pay_wide");
      expect(stored.bytes).to.be.above(2_100);
      expect(stored.compression).to.equal(null);
      // No autovacuum runs in PGlite (one standalone backend, whatever `autovacuum` says): the
      // platform vacuums and analyzes its own tables there, and a round does.
      const upkeep = new TableUpkeep({ sql: db.sql, log, metrics: createMetrics() });
      expect(await upkeep.needed()).to.equal(true);
      await db.sql.unsafe(`create table churn (id int primary key, v int not null default 0)`);
      await db.sql.unsafe(`insert into churn (id) select g from generate_series(1, 1000) g`);
      await db.sql.unsafe(`update churn set v = 1 where id <= 600`);
      await db.sql`select pg_stat_force_next_flush()`;
      await db.sql`select 1`;
      expect((await upkeep.round()).map((d) => `${d.table} ${d.action}`)).to.include("churn vacuum");
    } finally {
      await db.close();
    }
  });

  it("keeps the data across a restart on the same directory, without migrating again", async () => {
    const dataDir = join(dir, "pglite");
    pg = await startEmbeddedPostgres({ dataDir, host: "127.0.0.1", port: 0 });
    let db = await openDb({ url: pg.url, schema, max: 1 }, log);
    await db.sql`insert into projection_offsets (name, last_seq) values ('kept', 7)`;
    await db.close();
    await pg.stop();

    pg = await startEmbeddedPostgres({ dataDir, host: "127.0.0.1", port: 0 });
    db = await openDb({ url: pg.url, schema, max: 1 }, log);
    try {
      const rows = await db.sql<
        { last_seq: number }[]
      >`select last_seq from projection_offsets where name = 'kept'`;
      expect(rows.map((r) => r.last_seq)).to.deep.equal([7]);
      const applied = await db.sql<{ version: number }[]>`select version from schema_migrations`;
      expect(applied.map((r) => r.version)).to.deep.equal(migrations().map((m) => m.version));
    } finally {
      await db.close();
    }
  });

  it("starts on DATABASE_URL's port when nothing answers there, and uses a server that does", async () => {
    const port = await freePort();
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const lines: string[] = [];
    const first = await ensurePostgres({ url, dataDir: dir, log: (l) => lines.push(l) });
    pg = first.started;
    expect(pg?.url).to.equal(url);
    expect(pg?.dataDir).to.equal(join(dir, "pglite"));
    expect(lines.join("\n")).to.match(
      /embedded PostgreSQL \(PGlite\).*Procfile roles need a real PostgreSQL/,
    );

    const second = await ensurePostgres({ url, dataDir: dir, log: () => undefined });
    expect(second.started).to.equal(undefined);
  });

  it("refuses a port held by something that is not PostgreSQL, naming DATABASE_URL", async () => {
    const other = createServer((socket) => socket.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    const address = other.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    try {
      const attempt = ensurePostgres({
        url: `postgres://postgres@127.0.0.1:${port}/postgres`,
        dataDir: dir,
        log: () => undefined,
      });
      const err: unknown = await attempt.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(EmbeddedPostgresError);
      expect((err as Error).message).to.match(/not PostgreSQL.*DATABASE_URL/);
    } finally {
      other.close();
    }
  });
});
