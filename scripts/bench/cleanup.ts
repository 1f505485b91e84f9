// Leaving nothing behind: the run's own streams, Redis keys and temp dir at the end, and, at the
// start, what an earlier run could not remove because it was killed (tsx SIGKILLs a child whose
// event loop is too busy to acknowledge Ctrl-C within 30 ms, which a saturated bench often is).
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { dropSchema } from "../../streams/db/client.ts";
import { deleteTopology, topology } from "../../streams/topology.ts";
import { errorText } from "./load.ts";

/**
 * A bench run's prefix: `bench` + 10 hex digits. Its streams: the platform's (commands, events,
 * dead letters, and its KV buckets such as `<prefix>_policies`, whose streams are `KV_<bucket>`), the
 * baseline's and the bare flow's: every stream named `<prefix>_*` or `KV_<prefix>_*`. Matched by
 * name, not by a list, because a list missed the janitor's bucket when it was added and left a
 * `KV_<prefix>_janitor` stream behind after every run.
 */
export const benchPrefix = () => `bench${randomBytes(5).toString("hex")}`;
const BENCH_STREAM = /^(?:KV_)?(bench[0-9a-f]{10})_.+$/;
/** The run's data dir (the platform's demo-merchant and card-key files would go there). */
export const TEMP_DIR_PREFIX = "switchyard-bench-";
export const makeTempDir = () => mkdtempSync(join(tmpdir(), TEMP_DIR_PREFIX));
export const rawStreamName = (prefix: string) => `${prefix}_BENCH_RAW`;

// A live run writes every second; one quiet this long was killed. Far above a run's length, so a
// run going on at the same time on the same NATS is never touched.
const STALE_MS = 10 * 60_000;

export type Run = {
  prefix: string;
  redisUrl: string;
  dataDir: string | undefined;
  nc: NatsConnection | undefined;
  platform: { stop(): Promise<void> } | undefined;
  /** Absent: the run had no bare flow. */
  bare?: { stop(): Promise<void> } | undefined;
  /**
   * The procfile flow's child processes and their own prefix (absent: no --procfile). The prefix is
   * there even when the children are not: start-up may have created streams before it failed.
   */
  procfile?: { prefix: string; children: { stop(): Promise<void> } | undefined } | undefined;
  client: { close(): void } | undefined;
  services: { stop(): Promise<void> } | undefined;
};

/** Remove everything the run created, in dependency order; every step is tried, failures listed. */
export async function cleanUp(run: Run): Promise<string[]> {
  const problems: string[] = [];
  const step = async (what: string, f: () => Promise<unknown> | void) => {
    try {
      await f();
    } catch (err) {
      problems.push(`${what}: ${errorText(err)}`);
    }
  };
  await step("HTTP client", () => run.client?.close());
  // Like the in-process worker, the child worker finishes in-flight commands before its streams go.
  await step("procfile children stop", () => run.procfile?.children?.stop());
  // The worker stops before its streams go: it finishes in-flight commands and passivates actors.
  await step("platform stop", () => run.platform?.stop());
  await step("bare flow stop", () => run.bare?.stop());
  const nc = run.nc;
  if (nc) {
    await step("streams", () => removeStreams(nc, run.prefix));
    const procfilePrefix = run.procfile?.prefix;
    if (procfilePrefix !== undefined) await step("procfile streams", () => removeStreams(nc, procfilePrefix));
    await step("NATS connection", () => nc.close());
  }
  const prefixes = [run.prefix, ...(run.procfile ? [run.procfile.prefix] : [])];
  await step("Redis keys", () => removeRedisKeys(run.redisUrl, prefixes));
  // The read models' schemas (named from the prefix, as config/env.ts does).
  const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  for (const p of prefixes)
    await step(`database schema of ${p}`, () => dropSchema(databaseUrl, `sy_${p.toLowerCase()}`));
  const dir = run.dataDir;
  if (dir !== undefined) await step("temp dir", () => rmSync(dir, { recursive: true, force: true }));
  await step("local services", () => run.services?.stop());
  return problems;
}

/**
 * One more prefix's streams, Redis keys and read-model schema: a Procfile set of the workers mode
 * (scripts/bench/workers.ts), removed as soon as its run is over. Every step is tried; failures listed.
 */
export async function removePrefix(nc: NatsConnection, redisUrl: string, prefix: string): Promise<string[]> {
  const problems: string[] = [];
  const step = async (what: string, f: () => Promise<unknown>) => {
    await f().catch((err: unknown) => problems.push(`${what} of ${prefix}: ${errorText(err)}`));
  };
  await step("streams", () => removeStreams(nc, prefix));
  await step("Redis keys", () => removeRedisKeys(redisUrl, [prefix]));
  const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  await step("database schema", () => dropSchema(databaseUrl, `sy_${prefix.toLowerCase()}`));
  return problems;
}

async function removeStreams(nc: NatsConnection, prefix: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  // The topology first: it knows its own order (consumers before streams).
  await deleteTopology(jsm, topology(prefix, 1));
  const rest: string[] = [];
  for await (const name of jsm.streams.names()) if (BENCH_STREAM.exec(name)?.[1] === prefix) rest.push(name);
  for (const name of rest) {
    // Another cleanup (a sweep in a concurrent run) may have removed it meanwhile.
    await jsm.streams.delete(name).catch((err: unknown) => {
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
    });
  }
  // deleteTopology swallows its errors: say so when anything of the run's is still there.
  const left: string[] = [];
  for await (const name of jsm.streams.names()) if (BENCH_STREAM.exec(name)?.[1] === prefix) left.push(name);
  if (left.length > 0) throw new Error(`still there: ${left.join(", ")}`);
}

async function removeRedisKeys(redisUrl: string, prefixes: string[]): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  try {
    for (const prefix of prefixes) {
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== "0");
    }
  } finally {
    redis.disconnect();
  }
}

/** Remove the streams, Redis keys and temp dirs of bench runs killed before they could clean up. */
export async function sweepKilledRuns(nc: NatsConnection, redisUrl: string): Promise<string[]> {
  const jsm = await jetstreamManager(nc);
  const lastActive = new Map<string, number>();
  for await (const info of jsm.streams.list()) {
    const prefix = BENCH_STREAM.exec(info.config.name)?.[1];
    if (prefix === undefined) continue;
    // An empty stream's last_ts is year 1: then its creation is its last sign of life.
    const at = Math.max(Date.parse(info.state.last_ts) || 0, Date.parse(info.created) || 0);
    lastActive.set(prefix, Math.max(at, lastActive.get(prefix) ?? 0));
  }
  const stale = [...lastActive].filter(([, at]) => Date.now() - at > STALE_MS).map(([p]) => p);
  for (const prefix of stale) await removeStreams(nc, prefix);
  if (stale.length > 0) await removeRedisKeys(redisUrl, stale);
  const dirs = readdirSync(tmpdir())
    .filter((name) => name.startsWith(TEMP_DIR_PREFIX))
    .map((name) => join(tmpdir(), name))
    .filter((dir) => Date.now() - statSync(dir).mtimeMs > STALE_MS);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  return [...stale, ...dirs];
}
