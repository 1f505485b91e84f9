// What a bench section that runs after the flows (or alone) needs around it: NATS and Redis (local
// binaries started when nothing answers), the database URL, and Ctrl-C turned into an abort signal
// the section checks between steps. Everything it started is stopped after, however it ends.
import { ensureServices } from "../local-services.ts";

export type SectionEnv = { natsUrl: string; dbUrl: string; signal: AbortSignal };

export async function runSection(
  say: (line: string) => void,
  run: (env: SectionEnv) => Promise<void>,
): Promise<number> {
  const natsUrl = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
  const services = await ensureServices({
    natsUrl,
    redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    dataDir: process.env.SWITCHYARD_DATA_DIR ?? ".data",
    log: say,
  });
  const abort = new AbortController();
  const onInt = () => abort.abort();
  process.on("SIGINT", onInt);
  try {
    await run({
      natsUrl,
      dbUrl: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
      signal: abort.signal,
    });
    return 0;
  } finally {
    process.off("SIGINT", onInt);
    await services.stop();
  }
}
