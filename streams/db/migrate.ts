// SQL migrations, in the repository beside this file (`migrations/NNN_name.sql`), applied in order
// once each, in one transaction per file, under an advisory lock so two processes starting at once
// do not race. A migration's checksum is kept: a file changed after it was applied is refused.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type postgres from "postgres";
import type { Logger } from "../../config/log.ts";

const DIR = join(fileURLToPath(new URL(".", import.meta.url)), "migrations");

export type Migration = { version: number; name: string; sql: string; checksum: string };

export function migrations(): Migration[] {
  return readdirSync(DIR)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const sql = readFileSync(join(DIR, file), "utf8");
      return {
        version: Number(file.slice(0, 3)),
        name: file.slice(4, -4),
        sql,
        checksum: createHash("sha256").update(sql).digest("hex"),
      };
    });
}

export class MigrationError extends Error {
  override name = "MigrationError";
}

export async function migrate(sql: postgres.Sql, schema: string, log: Logger): Promise<void> {
  await sql.begin(async (tx) => {
    // One migrator per schema at a time; the lock ends with the transaction.
    await tx`select pg_advisory_xact_lock(hashtext(${`switchyard:migrate:${schema}`}))`;
    await tx.unsafe(`create table if not exists ${schema}.schema_migrations (
      version int primary key, name text not null, checksum text not null,
      applied_at timestamptz not null default now())`);
    const applied = new Map(
      (
        await tx.unsafe<{ version: number; checksum: string }[]>(
          `select version, checksum from ${schema}.schema_migrations`,
        )
      ).map((r) => [r.version, r.checksum]),
    );
    for (const m of migrations()) {
      const seen = applied.get(m.version);
      if (seen !== undefined) {
        if (seen !== m.checksum)
          throw new MigrationError(`migration ${m.version}_${m.name} changed after it was applied`);
        continue;
      }
      await tx.unsafe(`set local search_path to ${schema}`);
      await tx.unsafe(m.sql);
      await tx.unsafe(
        `insert into ${schema}.schema_migrations (version, name, checksum) values ($1, $2, $3)`,
        [m.version, m.name, m.checksum],
      );
      log.info({ schema, migration: `${m.version}_${m.name}` }, "database migration applied");
    }
  });
}
