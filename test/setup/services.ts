// Mocha global fixture: NATS JetStream and Redis for the whole test run, reusing servers that
// already answer (CI, a developer's own) and starting local binaries otherwise; PostgreSQL must
// answer at DATABASE_URL (the embedded one of npm start takes one connection, too few for the
// tests), or the run stops at once saying what to install. Tests isolate their state with random
// names, SWITCHYARD_PREFIX and a schema per run, not with private servers.
import postgres from "postgres";
import { loadConfig } from "../../config/env.ts";
import { ensureServices, type LocalServices } from "../../scripts/local-services.ts";
import { removeRunDirs } from "../support/run-dirs.ts";

let services: LocalServices | undefined;

export async function mochaGlobalSetup(): Promise<void> {
  const config = loadConfig();
  services = await ensureServices({
    natsUrl: config.nats.url,
    redisUrl: config.redis.url,
    dataDir: ".data/test-services",
    binDirs: config.binDirs,
    log: (line) => console.error(`[test services] ${line}`),
  });
  await requirePostgres(config.database.url);
}

async function requirePostgres(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => undefined });
  try {
    await sql`select 1`;
    console.error(`[test services] postgres: using the server at ${new URL(url).host}`);
  } catch (err) {
    await services?.stop();
    throw new Error(
      `the tests need PostgreSQL at DATABASE_URL (${new URL(url).host}): ${err instanceof Error ? err.message : String(err)}. ` +
        "Install and start it (Debian: sudo apt install postgresql && sudo pg_ctlcluster 15 main start; " +
        "macOS: brew install postgresql@15 && brew services start postgresql@15), or point DATABASE_URL at one.",
    );
  } finally {
    await sql.end({ timeout: 1 }).catch(() => undefined);
  }
}

export async function mochaGlobalTeardown(): Promise<void> {
  const left = removeRunDirs();
  if (left > 0) console.error(`[test services] removed ${left} temporary directories specs left behind`);
  await services?.stop();
  services = undefined;
}
