// The product flow of `npm run bench` as `npm start` runs it (issue 17): sandbox, worker and gateway
// in this process with everything the worker runs by default — read models (with the challenge
// expiry and the missing-line sweep), the webhook dispatcher and sender, the janitor — logs at info
// into a file, metrics on; and, unless --no-endpoint, one webhook endpoint of the bench merchant
// subscribed to every event type, pointing at the webhooks section's receiver (a process of its
// own answering 200), so the dispatcher has deliveries to make as a merchant's would.
// With --embedded, PostgreSQL is PGlite in this process (one connection, as `npm start` uses it
// when no server answers) and the sandbox keeps its state file, as `npm start`'s default does.
import { missingNodeFlags } from "../../config/node-flags.ts";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { loadConfig, type Config } from "../../config/env.ts";
import { createLogger } from "../../config/log.ts";
import { bufferedDestination } from "../../config/log-format.ts";
import { onEmbeddedPostgres, startEmbeddedPostgres, type EmbeddedPostgres } from "../local-postgres.ts";
import { startPlatform, type Platform } from "../platform.ts";
import { startReceiver, type Receiver } from "./webhooks.ts";

export type ProductRun = {
  config: Config;
  platform: Platform;
  /** One line: what runs in the product flow, for the report's header. */
  setup: string;
  receiver: Receiver | undefined;
  /** Stops the platform, then the receiver and the embedded PostgreSQL. */
  stop(): Promise<void>;
};

/**
 * The bench's environment for the platform: the caller's environment may tune it (partitions, reply
 * wait, log level); the bench owns what keeps the run apart (ports, prefix, keys, data dir).
 */
export function benchEnv(o: {
  natsUrl: string;
  redisUrl: string;
  prefix: string;
  apiKey: string;
  cardKey: Buffer;
  dataDir: string;
  embedded: boolean;
}): Record<string, string | undefined> {
  return {
    LOG_LEVEL: "info",
    ...process.env,
    NATS_URL: o.natsUrl,
    REDIS_URL: o.redisUrl,
    PORT: "0",
    GRPC_PORT: "0",
    SANDBOX_PORT: "0",
    SWITCHYARD_PREFIX: o.prefix,
    SWITCHYARD_BOOTSTRAP_KEYS: `m_bench:${o.apiKey}`,
    SWITCHYARD_CARD_KEY: o.cardKey.toString("hex"),
    SWITCHYARD_DATA_DIR: o.dataDir,
    // A PSP's own storage is not what the server configuration measures; the embedded one is
    // `npm start`'s default as a newcomer gets it, state file included.
    SANDBOX_PERSIST: o.embedded ? "true" : "false",
    // The endpoint's receiver is local: http to loopback, as npm start allows it.
    SWITCHYARD_WEBHOOK_ALLOW_HTTP_LOOPBACK: "true",
  };
}

export async function startProduct(o: {
  env: Record<string, string | undefined>;
  dataDir: string;
  apiKey: string;
  embedded: boolean;
  endpoint: boolean;
  /**
   * The PSP sandbox's URL when it runs in a process of its own (the bench's outside process): the
   * platform here is then worker + gateway, and the PSP's CPU is not billed to the product. Absent:
   * the sandbox runs in this process too, as a newcomer's `npm start` runs it (the embedded mode).
   */
  sandboxUrl?: string;
}): Promise<ProductRun> {
  let pg: EmbeddedPostgres | undefined;
  let platform: Platform | undefined;
  let receiver: Receiver | undefined;
  const stop = async () => {
    // Each step even when one before failed: the PGlite data dir must be closed before it is removed.
    await platform?.stop().catch(() => undefined);
    await receiver?.close().catch(() => undefined);
    await pg?.stop();
  };
  try {
    const env = o.sandboxUrl === undefined ? o.env : { ...o.env, SANDBOX_URL: o.sandboxUrl };
    let config = loadConfig(env);
    if (o.embedded) {
      pg = await startEmbeddedPostgres({ dataDir: join(o.dataDir, "pglite"), host: "127.0.0.1", port: 0 });
      // As scripts/run.ts does: PGlite takes one connection at a time, every role shares one.
      config = onEmbeddedPostgres(loadConfig(env), pg.url);
    }
    // Logs as a deployment writes them (LOG_LEVEL, default info: an access line per request, a line
    // per status change; buffered as config/log-format.ts buffers stdout), into a file of the run's
    // own so stdout keeps only the report.
    const logFile = bufferedDestination(join(o.dataDir, "platform.log"));
    platform = await startPlatform(config, {
      roles: new Set(o.sandboxUrl === undefined ? ["sandbox", "worker", "gateway"] : ["worker", "gateway"]),
      log: createLogger(config.logLevel, { service: "switchyard" }, logFile),
    });
    const subscribe = o.endpoint && config.webhooks.enabled && platform.url !== undefined;
    if (subscribe) {
      receiver = await startReceiver({ record: false });
      const secret = await createEndpoint(platform.url!, o.apiKey, receiver.url);
      // Every 50th delivery verified with the official package: the signature is really made.
      receiver.reset(secret);
    }
    const db = o.embedded
      ? "PGlite in this process (one connection)"
      : `server at ${hostOf(config.database.url)}`;
    const missing = missingNodeFlags();
    const setup =
      (o.sandboxUrl === undefined
        ? "product: sandbox + worker + gateway in this process"
        : "product: worker + gateway in this process (the PSP sandbox in the bench's outside process)") +
      `; read models ${projectionsAt(config)}` +
      ` (payments, settlement, reconciliation; challenge expiry and missing-line sweep with them);` +
      ` webhook dispatcher ${config.webhooks.enabled ? projectionsAt(config) : "OFF"}` +
      (subscribe
        ? " with 1 endpoint (every event type) → a receiver in a process of its own answering 200"
        : ", no endpoint") +
      `; janitor on; logs at ${config.logLevel} (to a file); metrics on;` +
      ` PostgreSQL: ${db}; sandbox persistence ${onOff(config.sandbox.persist)}` +
      // npm start gives every process these V8 flags (config/node-flags.ts); without them the
      // figures are heavier than npm start's (run it as `npm run bench`).
      (missing.length === 0
        ? "; V8 flags as npm start"
        : `; WITHOUT npm start's V8 flags ${missing.join(" ")}`);
    return { config, platform, setup, receiver, stop };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

const onOff = (b: boolean) => (b ? "on" : "OFF");

const projectionsAt = (config: Config) =>
  ({ on: "on, main thread", thread: "on, projections thread", off: "OFF" })[config.worker.projections];

function hostOf(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port === "" ? "5432" : u.port}`;
}

/** The merchant's endpoint, registered through the API as a merchant does; its signing secret. */
async function createEndpoint(baseUrl: string, apiKey: string, url: string): Promise<string> {
  const res = await fetch(`${baseUrl}/v1/webhook_endpoints`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${apiKey}`,
      "content-type": "application/json",
      "idempotency-key": `bench-endpoint-${randomBytes(4).toString("hex")}`,
    },
    body: JSON.stringify({ url, enabled_events: ["*"], description: "bench receiver" }),
  });
  const body = (await res.json()) as { secret?: string };
  if (res.status !== 201 || typeof body.secret !== "string")
    throw new Error(`could not register the bench's webhook endpoint: ${res.status} ${JSON.stringify(body)}`);
  return body.secret;
}
