// What a bench section that runs after the flows (or alone) needs around it: NATS and Redis (local
// binaries started when nothing answers), the database URL, and Ctrl-C turned into an abort signal
// the section checks between steps. Everything it started is stopped after, however it ends. And
// what both sections do: project seeded payments until the read model has caught up.
import { DEFAULT_NATS_URL, DEFAULT_REDIS_URL } from "../../config/env.ts";
import type { JetStreamClient } from "@nats-io/jetstream";
import { paymentsProjection } from "../../actors/projections/payments.ts";
import type { Logger } from "../../config/log.ts";
import type { Sql } from "../../streams/db/client.ts";
import { Follower } from "../../streams/db/follower.ts";
import { ensureServices } from "../local-services.ts";

export type SectionEnv = { natsUrl: string; dbUrl: string; signal: AbortSignal };

/** A section that drives payments in a closed loop, in rounds (webhooks, decompose): what it is given. */
export type ClosedLoopSectionOptions = {
  concurrency: number;
  durationS: number;
  warmupS: number;
  rounds: number;
  say: (line: string) => void;
};

export async function runSection(
  say: (line: string) => void,
  run: (env: SectionEnv) => Promise<void>,
): Promise<number> {
  const natsUrl = process.env.NATS_URL ?? DEFAULT_NATS_URL;
  const services = await ensureServices({
    natsUrl,
    redisUrl: process.env.REDIS_URL ?? DEFAULT_REDIS_URL,
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

export function stopIf(signal: AbortSignal): void {
  if (signal.aborted) throw new Error("interrupted");
}

export const aborted = (signal: AbortSignal) =>
  new Promise<never>((_, reject) =>
    signal.addEventListener("abort", () => reject(new Error("interrupted")), { once: true }),
  );

/**
 * The payments read model applied to `stream` from its recorded position until it reaches `lastSeq`
 * (progress every 10 s); the follower is stopped however it ends. Returns the time it took, in ms.
 */
export async function projectPayments(d: {
  js: JetStreamClient;
  sql: Sql;
  log: Logger;
  stream: string;
  lastSeq: number;
  batch?: number;
  say: (line: string) => void;
  signal: AbortSignal;
}): Promise<number> {
  const t = performance.now();
  const follower = new Follower(
    { ...paymentsProjection(d.log), stream: d.stream, ...(d.batch !== undefined && { batch: d.batch }) },
    { js: d.js, sql: d.sql, log: d.log },
  );
  await follower.start();
  const ticker = setInterval(() => d.say(`  projected ${follower.position} / ${d.lastSeq}`), 10_000);
  try {
    await Promise.race([follower.caughtUp(d.lastSeq), aborted(d.signal)]);
    return performance.now() - t;
  } finally {
    clearInterval(ticker);
    await follower.stop();
  }
}
