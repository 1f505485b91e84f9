// The process environment, parsed once: every variable Switchyard reads, its default, its
// validation and its place in the typed `Config`. Other modules take a `Config`, never `process.env`.
import { z } from "zod";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type BootstrapKey = { merchantId: string; key: string };

/** What an operator may do on /ops: read (viewer), fix (operator), change policies and keys (admin). */
export const OPERATOR_ROLES = ["viewer", "operator", "admin"] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/** An operator's API key for /ops/*; `name` identifies the operator in logs and on uploads. */
export type OperatorKey = { name: string; key: string; role: OperatorRole };

export type Config = {
  gateway: { host: string; port: number; replyWaitMs: number };
  nats: { url: string };
  redis: { url: string };
  /**
   * PostgreSQL for the read models (never the record: rebuilt from JetStream). `schema` defaults to
   * one named from the prefix; `max` is the pool size (1 against the embedded PGlite of npm start).
   */
  database: { url: string; schema: string; max: number };
  settlement: {
    /** How often each PSP's new settlement reports are fetched; 0 = never (tests ask for it). */
    pullEveryMs: number;
    /** A capture or refund in no report after this many days is `missing`. */
    missingAfterDays: number;
    /** A fee within max(minor, percent % of the expected fee) of the expected fee matches. */
    feeToleranceMinor: number;
    feeTolerancePercent: number;
  };
  /** Prepended to stream, subject, bucket and Redis key names so deployments never share state. */
  prefix: string;
  partitions: number;
  bootstrapKeys: BootstrapKey[];
  /** Keys of the operator API (/ops/*); empty = the operator API answers 403 operator_api_disabled. */
  operatorKeys: OperatorKey[];
  psp: { timeoutMs: number };
  /**
   * PSP notifications: the secrets verifying them (never logged), and where the sandbox sends its
   * own (`<url>/<psp>`; npm start points it at its gateway's /webhooks/psp).
   */
  notifications: NotificationSecrets & { sandboxNotifyUrl: string | undefined };
  /** A worker running without the gateway serves its own /metrics here (PSP health, routing, attempts). */
  worker: { metricsPort: number };
  /**
   * Outgoing merchant webhooks (actors/webhooks): whether this worker runs the dispatcher, the delays
   * before each retry (ms), how long an endpoint may fail before it is disabled, the POST timeout,
   * the sends in flight per process and how often the sender looks for due deliveries.
   */
  webhooks: {
    enabled: boolean;
    retryScheduleMs: number[];
    disableAfterMs: number;
    timeoutMs: number;
    concurrency: number;
    pollMs: number;
  };
  /** `persist`: the sandbox keeps its charges in `<dataDir>/sandbox-psp.json` across restarts. */
  sandbox: { url: string; port: number; slowCardDelayMs: number; persist: boolean };
  snapshotEvery: number;
  passivateAfterMs: number;
  /** How long a worker may hold a command without a heartbeat before JetStream redelivers it. */
  commandAckWaitMs: number;
  /** Deliveries of a command before it is dead-lettered. */
  commandMaxDeliver: number;
  /** How long a payment may wait on an open PSP effect before the janitor re-drives it. */
  janitorAfterMs: number;
  /** A 3-D Secure challenge untouched this long expires (actors/expiry.ts); swept every sweepEveryMs. */
  challenges: { expiryMs: number; sweepEveryMs: number };
  /** JetStream stream replicas: 1 on one machine, 3 on a production cluster. */
  streamReplicas: number;
  /** Merchants' webhook endpoints: where they may point (SSRF rules) and how long a rotated secret lasts. */
  webhookEndpoints: {
    /** http:// to loopback allowed (npm start and tests); production: https only. */
    allowHttpLoopback: boolean;
    /** Private, link-local, CGNAT and loopback targets allowed (a deployment inside a private network). */
    allowPrivate: boolean;
    /** How long the previous signing secret stays valid after a rotation. */
    secretGraceMs: number;
  };
  /** AES-256 key sealing card data inside commands; when absent, `config/secrets.ts` provides one. */
  cardKey: Buffer | undefined;
  /** Earlier card keys, kept only to open commands sealed before a rotation (and to keep fingerprints stable). */
  retiredCardKeys: Buffer[];
  dataDir: string;
  logLevel: LogLevel;
  /** Where `scripts/local-services.ts` looks for server binaries besides PATH; undefined = its default. */
  binDirs: string[] | undefined;
};

/**
 * How the PSPs' notifications to POST /webhooks/psp/<psp> are verified: acme's signing secret
 * (Acme-Signature, Stripe's scheme) and its timestamp tolerance, bolt's HMAC key (hex, Adyen's).
 */
export type NotificationSecrets = { acmeWebhookSecret: string; boltHmacKey: string; toleranceSec: number };

/**
 * The development secrets: what the sandbox signs with and the connectors verify with when nothing is
 * configured (npm start, tests). Public by design; a deployment facing real PSPs sets its own.
 */
export const DEV_NOTIFICATION_SECRETS: NotificationSecrets = {
  acmeWebhookSecret: "whsec_acme_development_only_not_a_secret",
  boltHmacKey: "44782def547aaa06c910c43932b1eb0c71fc68d9d0c057550c48ec2acf6ba056",
  toleranceSec: 300,
};

export class ConfigError extends Error {
  override name = "ConfigError";
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration: ${problems.join("; ")}`);
    this.problems = problems;
  }
}

type Parsed<T> = { value: T } | { problem: string };

// Echo a bad value so the operator sees what was read, but never at length.
const shown = (raw: string): string => JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}…` : raw);

/** An optional variable: unset or blank means `fallback`, anything else must pass `parse`. */
function variable<T>(fallback: T, parse: (raw: string) => Parsed<T>) {
  return z
    .string()
    .optional()
    .transform((raw, ctx): T => {
      if (raw === undefined || raw.trim() === "") return fallback;
      const parsed = parse(raw.trim());
      if ("problem" in parsed) {
        ctx.addIssue({ code: "custom", message: parsed.problem });
        return z.NEVER;
      }
      return parsed.value;
    });
}

function integer(min: number, max: number) {
  return (raw: string): Parsed<number> => {
    const n = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
    return n >= min && n <= max
      ? { value: n }
      : { problem: `expected an integer ${min}-${max}, got ${shown(raw)}` };
  };
}

// URLs may carry credentials, so a bad one is described, not echoed.
function url(protocols: string[]) {
  const expected = `expected a ${protocols.map((p) => `${p}//`).join(" or ")} URL`;
  return (raw: string): Parsed<string> => {
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      return { problem: `${expected} (the value does not parse as one)` };
    }
    if (!protocols.includes(parsed.protocol)) {
      return { problem: `${expected}, got scheme ${shown(parsed.protocol)}` };
    }
    return parsed.hostname === "" ? { problem: `${expected} with a host` } : { value: raw };
  };
}

function matching(pattern: RegExp, description: string) {
  return (raw: string): Parsed<string> =>
    pattern.test(raw) ? { value: raw } : { problem: `expected ${description}, got ${shown(raw)}` };
}

const MERCHANT_ID = /^[a-zA-Z0-9_-]{1,64}$/;
const MIN_KEY_LENGTH = 16;

// Keys are secrets: problems name the entry by position and never quote any part of it.
function bootstrapEntry(entry: string, n: number, earlier: BootstrapKey[]): Parsed<BootstrapKey> {
  const colon = entry.indexOf(":");
  if (colon < 0) return { problem: `entry ${n} is malformed (expected merchant_id:key)` };
  const merchantId = entry.slice(0, colon);
  const key = entry.slice(colon + 1);
  if (!MERCHANT_ID.test(merchantId)) {
    return { problem: `entry ${n} is malformed (merchant id must be 1-64 of [a-zA-Z0-9_-])` };
  }
  if (key.length < MIN_KEY_LENGTH) {
    return { problem: `entry ${n} is malformed (key must be at least ${MIN_KEY_LENGTH} characters)` };
  }
  // One key for two merchants would make authentication ambiguous.
  if (earlier.some((k) => k.key === key))
    return { problem: `entry ${n} repeats the key of an earlier entry` };
  return { value: { merchantId, key } };
}

function bootstrapKeys(raw: string): Parsed<BootstrapKey[]> {
  const keys: BootstrapKey[] = [];
  const problems: string[] = [];
  for (const [i, entry] of raw.split(",").entries()) {
    if (entry.trim() === "") continue; // tolerate "a:k," and ",," in hand-edited lists
    const parsed = bootstrapEntry(entry.trim(), i + 1, keys);
    if ("problem" in parsed) problems.push(parsed.problem);
    else keys.push(parsed.value);
  }
  return problems.length > 0 ? { problem: problems.join(", ") } : { value: keys };
}

const OPERATOR_NAME = /^[a-zA-Z0-9_.-]{1,64}$/;
const MIN_OPERATOR_KEY_LENGTH = 24;

const isRole = (s: string): s is OperatorRole => (OPERATOR_ROLES as readonly string[]).includes(s);

// Same rules as bootstrap keys, stricter length: an operator key changes what every payment does.
// `name:key` or `name:key:role`; without a role an operator is admin, as every operator was before
// roles existed. A third part that is not a role is refused, not read as part of the key: a typo
// in a role must not leave an admin behind.
function operatorKeys(raw: string): Parsed<OperatorKey[]> {
  const keys: OperatorKey[] = [];
  const problems: string[] = [];
  for (const [i, entry] of raw.split(",").entries()) {
    const trimmed = entry.trim();
    if (trimmed === "") continue;
    const n = i + 1;
    const [name = "", key = "", role = "admin", ...rest] = trimmed.split(":");
    if (!trimmed.includes(":") || rest.length > 0)
      problems.push(`entry ${n} is malformed (expected name:key or name:key:role)`);
    else if (!OPERATOR_NAME.test(name))
      problems.push(`entry ${n} is malformed (operator name must be 1-64 of [a-zA-Z0-9_.-])`);
    else if (key.length < MIN_OPERATOR_KEY_LENGTH)
      problems.push(`entry ${n} is malformed (key must be at least ${MIN_OPERATOR_KEY_LENGTH} characters)`);
    else if (!isRole(role))
      problems.push(`entry ${n} has an unknown role ${shown(role)} (expected ${OPERATOR_ROLES.join(", ")})`);
    else if (keys.some((k) => k.key === key)) problems.push(`entry ${n} repeats the key of an earlier entry`);
    else if (keys.some((k) => k.name === name))
      problems.push(`entry ${n} repeats the operator name ${shown(name)}`);
    else keys.push({ name, key, role });
  }
  return problems.length > 0 ? { problem: problems.join(", ") } : { value: keys };
}

function cardKey(raw: string): Parsed<Buffer | undefined> {
  return /^[0-9a-fA-F]{64}$/.test(raw)
    ? { value: Buffer.from(raw, "hex") }
    : { problem: "expected 64 hex characters, an AES-256 key (the value is not shown)" };
}

function cardKeyList(raw: string): Parsed<Buffer[]> {
  const keys: Buffer[] = [];
  for (const [i, item] of raw.split(",").entries()) {
    const k = cardKey(item.trim());
    if ("problem" in k || !k.value)
      return { problem: `entry ${i + 1}: expected 64 hex characters (not shown)` };
    keys.push(k.value);
  }
  return { value: keys };
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `500ms`, `30s`, `15m`, `24h`, `7d` (a bare number is milliseconds), between min and max milliseconds. */
function duration(minMs: number, maxMs: number) {
  return (raw: string): Parsed<number> => {
    const m = /^(\d{1,9})(ms|s|m|h|d)?$/.exec(raw);
    const ms = m ? Number(m[1]) * (UNIT_MS[m[2] ?? "ms"] ?? NaN) : NaN;
    return ms >= minMs && ms <= maxMs
      ? { value: ms }
      : {
          problem: `expected a duration like 30s, 15m or 24h (${minMs}ms to ${maxMs / 86_400_000}d), got ${shown(raw)}`,
        };
  };
}

function flag(raw: string): Parsed<boolean> {
  if (raw === "true" || raw === "1") return { value: true };
  if (raw === "false" || raw === "0") return { value: false };
  return { problem: `expected true or false, got ${shown(raw)}` };
}

/** `5s,5m,30m` → [5000, 300000, 1800000]: the delay before each retry, 1 to 20 of them. */
function durationList(raw: string): Parsed<number[]> {
  const items = raw.split(",").map((item) => item.trim());
  if (items.length > 20) return { problem: `expected at most 20 retry delays, got ${items.length}` };
  const values: number[] = [];
  for (const [i, item] of items.entries()) {
    const d = duration(1, 366 * 86_400_000)(item);
    if ("problem" in d) return { problem: `entry ${i + 1}: ${d.problem}` };
    values.push(d.value);
  }
  return { value: values };
}

function onOff(raw: string): Parsed<boolean> {
  if (raw === "on") return { value: true };
  if (raw === "off") return { value: false };
  return { problem: `expected on or off, got ${shown(raw)}` };
}

function logLevel(raw: string): Parsed<LogLevel> {
  const level = LOG_LEVELS.find((l) => l === raw);
  return level !== undefined
    ? { value: level }
    : { problem: `expected one of ${LOG_LEVELS.join(", ")}, got ${shown(raw)}` };
}

function dirList(raw: string): Parsed<string[] | undefined> {
  return { value: raw.split(":").filter((dir) => dir !== "") };
}

const EnvSchema = z
  .object({
    PORT: variable(8080, integer(0, 65535)), // 0: any free port (tests)
    HOST: variable("127.0.0.1", matching(/^[^\s/]+$/, "a host name or address")),
    NATS_URL: variable("nats://127.0.0.1:4222", url(["nats:", "tls:"])),
    REDIS_URL: variable("redis://127.0.0.1:6379", url(["redis:", "rediss:"])),
    DATABASE_URL: variable("postgres://postgres@127.0.0.1:5432/postgres", url(["postgres:", "postgresql:"])),
    SWITCHYARD_DB_SCHEMA: variable("", matching(/^([a-z_][a-z0-9_]{0,62})?$/, "a lowercase SQL identifier")),
    SWITCHYARD_DB_MAX_CONNECTIONS: variable(10, integer(1, 100)),
    SWITCHYARD_SETTLEMENT_PULL_MS: variable(0, integer(0, 86_400_000)),
    SWITCHYARD_SETTLEMENT_MISSING_DAYS: variable(3, integer(0, 365)),
    SWITCHYARD_FEE_TOLERANCE_MINOR: variable(5, integer(0, 1_000_000)),
    SWITCHYARD_FEE_TOLERANCE_PERCENT: variable(10, integer(0, 1_000)),
    SWITCHYARD_PREFIX: variable("", matching(/^[A-Za-z0-9_]*$/, "letters, digits and _ only")),
    SWITCHYARD_PARTITIONS: variable(64, integer(1, 1024)),
    SWITCHYARD_BOOTSTRAP_KEYS: variable<BootstrapKey[]>([], bootstrapKeys),
    SWITCHYARD_OPERATOR_KEYS: variable<OperatorKey[]>([], operatorKeys),
    SWITCHYARD_REPLY_WAIT_MS: variable(10_000, integer(0, 600_000)),
    SWITCHYARD_PSP_TIMEOUT_MS: variable(5_000, integer(1, 600_000)),
    // Secrets: a bad value is described, never echoed.
    SWITCHYARD_ACME_WEBHOOK_SECRET: variable<string>(DEV_NOTIFICATION_SECRETS.acmeWebhookSecret, (raw) =>
      /^[\x21-\x7e]{16,256}$/.test(raw)
        ? { value: raw }
        : { problem: "expected 16-256 printable characters (its value is not shown)" },
    ),
    SWITCHYARD_BOLT_HMAC_KEY: variable<string>(DEV_NOTIFICATION_SECRETS.boltHmacKey, (raw) =>
      /^([0-9a-fA-F]{2}){16,64}$/.test(raw)
        ? { value: raw }
        : { problem: "expected a hex key of 16-64 bytes (its value is not shown)" },
    ),
    SWITCHYARD_NOTIFICATION_TOLERANCE_SEC: variable(300, integer(1, 86_400)),
    SANDBOX_NOTIFY_URL: variable<string | undefined>(undefined, url(["http:", "https:"])),
    SANDBOX_URL: variable("http://127.0.0.1:8081", url(["http:", "https:"])),
    SANDBOX_PORT: variable(8081, integer(0, 65535)),
    SWITCHYARD_WORKER_METRICS_PORT: variable(9464, integer(0, 65535)),
    SANDBOX_SLOW_CARD_DELAY_MS: variable(10_000, integer(0, 3_600_000)),
    SANDBOX_PERSIST: variable(true, flag),
    SWITCHYARD_SNAPSHOT_EVERY: variable(10, integer(1, 1_000_000)),
    SWITCHYARD_PASSIVATE_AFTER_MS: variable(60_000, integer(100, 86_400_000)),
    SWITCHYARD_COMMAND_ACK_WAIT_MS: variable(30_000, integer(1_000, 3_600_000)),
    SWITCHYARD_COMMAND_MAX_DELIVER: variable(20, integer(2, 1_000)),
    SWITCHYARD_JANITOR_AFTER_MS: variable(60_000, integer(1_000, 86_400_000)),
    SWITCHYARD_CHALLENGE_EXPIRY: variable(3_600_000, duration(1_000, 7 * 86_400_000)),
    SWITCHYARD_CHALLENGE_SWEEP: variable<number | undefined>(undefined, duration(100, 3_600_000)),
    SWITCHYARD_STREAM_REPLICAS: variable(1, integer(1, 5)),
    SWITCHYARD_WEBHOOK_ALLOW_HTTP_LOOPBACK: variable(false, flag),
    SWITCHYARD_WEBHOOK_ALLOW_PRIVATE: variable(false, flag),
    SWITCHYARD_WEBHOOK_SECRET_GRACE: variable(86_400_000, duration(0, 30 * 86_400_000)),
    SWITCHYARD_CARD_KEY: variable<Buffer | undefined>(undefined, cardKey),
    SWITCHYARD_CARD_KEYS_RETIRED: variable<Buffer[]>([], cardKeyList),
    SWITCHYARD_DATA_DIR: variable(".data", (raw) => ({ value: raw })),
    SWITCHYARD_BIN_DIRS: variable<string[] | undefined>(undefined, dirList),
    LOG_LEVEL: variable<LogLevel>("info", logLevel),
    SWITCHYARD_WEBHOOKS: variable(true, onOff),
    SWITCHYARD_WEBHOOK_RETRY_SCHEDULE: variable(
      [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000],
      durationList,
    ),
    SWITCHYARD_WEBHOOK_DISABLE_AFTER: variable(5 * 86_400_000, duration(1_000, 366 * 86_400_000)),
    SWITCHYARD_WEBHOOK_TIMEOUT_MS: variable(10_000, integer(100, 120_000)),
    SWITCHYARD_WEBHOOK_CONCURRENCY: variable(128, integer(1, 1_000)),
    SWITCHYARD_WEBHOOK_POLL_MS: variable(500, integer(10, 60_000)),
  })
  .superRefine((env, ctx) => {
    // The sandbox's slow card exists to make the PSP call time out; a shorter delay tests nothing.
    if (env.SANDBOX_SLOW_CARD_DELAY_MS <= env.SWITCHYARD_PSP_TIMEOUT_MS) {
      ctx.addIssue({
        code: "custom",
        path: ["SANDBOX_SLOW_CARD_DELAY_MS"],
        message: `must be larger than SWITCHYARD_PSP_TIMEOUT_MS (${env.SWITCHYARD_PSP_TIMEOUT_MS}), got ${env.SANDBOX_SLOW_CARD_DELAY_MS}`,
      });
    }
    // A key that is both a merchant's and an operator's would make the 403 for merchants a lie.
    for (const [i, op] of env.SWITCHYARD_OPERATOR_KEYS.entries()) {
      if (env.SWITCHYARD_BOOTSTRAP_KEYS.some((m) => m.key === op.key))
        ctx.addIssue({
          code: "custom",
          path: ["SWITCHYARD_OPERATOR_KEYS"],
          message: `entry ${i + 1} (operator ${shown(op.name)}) uses a key of SWITCHYARD_BOOTSTRAP_KEYS`,
        });
    }
  })
  .transform((env): Config => ({
    gateway: { host: env.HOST, port: env.PORT, replyWaitMs: env.SWITCHYARD_REPLY_WAIT_MS },
    nats: { url: env.NATS_URL },
    redis: { url: env.REDIS_URL },
    database: {
      url: env.DATABASE_URL,
      schema:
        env.SWITCHYARD_DB_SCHEMA ||
        (env.SWITCHYARD_PREFIX ? `sy_${env.SWITCHYARD_PREFIX.toLowerCase()}` : "switchyard"),
      max: env.SWITCHYARD_DB_MAX_CONNECTIONS,
    },
    settlement: {
      pullEveryMs: env.SWITCHYARD_SETTLEMENT_PULL_MS,
      missingAfterDays: env.SWITCHYARD_SETTLEMENT_MISSING_DAYS,
      feeToleranceMinor: env.SWITCHYARD_FEE_TOLERANCE_MINOR,
      feeTolerancePercent: env.SWITCHYARD_FEE_TOLERANCE_PERCENT,
    },
    prefix: env.SWITCHYARD_PREFIX,
    partitions: env.SWITCHYARD_PARTITIONS,
    bootstrapKeys: env.SWITCHYARD_BOOTSTRAP_KEYS,
    operatorKeys: env.SWITCHYARD_OPERATOR_KEYS,
    psp: { timeoutMs: env.SWITCHYARD_PSP_TIMEOUT_MS },
    notifications: {
      acmeWebhookSecret: env.SWITCHYARD_ACME_WEBHOOK_SECRET,
      boltHmacKey: env.SWITCHYARD_BOLT_HMAC_KEY,
      toleranceSec: env.SWITCHYARD_NOTIFICATION_TOLERANCE_SEC,
      sandboxNotifyUrl: env.SANDBOX_NOTIFY_URL,
    },
    worker: { metricsPort: env.SWITCHYARD_WORKER_METRICS_PORT },
    webhooks: {
      enabled: env.SWITCHYARD_WEBHOOKS,
      retryScheduleMs: env.SWITCHYARD_WEBHOOK_RETRY_SCHEDULE,
      disableAfterMs: env.SWITCHYARD_WEBHOOK_DISABLE_AFTER,
      timeoutMs: env.SWITCHYARD_WEBHOOK_TIMEOUT_MS,
      concurrency: env.SWITCHYARD_WEBHOOK_CONCURRENCY,
      pollMs: env.SWITCHYARD_WEBHOOK_POLL_MS,
    },
    sandbox: {
      url: env.SANDBOX_URL,
      port: env.SANDBOX_PORT,
      slowCardDelayMs: env.SANDBOX_SLOW_CARD_DELAY_MS,
      persist: env.SANDBOX_PERSIST,
    },
    snapshotEvery: env.SWITCHYARD_SNAPSHOT_EVERY,
    passivateAfterMs: env.SWITCHYARD_PASSIVATE_AFTER_MS,
    commandAckWaitMs: env.SWITCHYARD_COMMAND_ACK_WAIT_MS,
    commandMaxDeliver: env.SWITCHYARD_COMMAND_MAX_DELIVER,
    janitorAfterMs: env.SWITCHYARD_JANITOR_AFTER_MS,
    challenges: {
      expiryMs: env.SWITCHYARD_CHALLENGE_EXPIRY,
      // Unset: a quarter of the expiry, between 250 ms and a minute (a challenge ends late by at most that).
      sweepEveryMs:
        env.SWITCHYARD_CHALLENGE_SWEEP ??
        Math.min(60_000, Math.max(250, Math.floor(env.SWITCHYARD_CHALLENGE_EXPIRY / 4))),
    },
    streamReplicas: env.SWITCHYARD_STREAM_REPLICAS,
    webhookEndpoints: {
      allowHttpLoopback: env.SWITCHYARD_WEBHOOK_ALLOW_HTTP_LOOPBACK,
      allowPrivate: env.SWITCHYARD_WEBHOOK_ALLOW_PRIVATE,
      secretGraceMs: env.SWITCHYARD_WEBHOOK_SECRET_GRACE,
    },
    cardKey: env.SWITCHYARD_CARD_KEY,
    retiredCardKeys: env.SWITCHYARD_CARD_KEYS_RETIRED,
    dataDir: env.SWITCHYARD_DATA_DIR,
    logLevel: env.LOG_LEVEL,
    binDirs: env.SWITCHYARD_BIN_DIRS,
  }));

/** Parses the environment; throws a `ConfigError` naming every bad variable at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const result = EnvSchema.safeParse(env);
  if (result.success) return result.data;
  throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`));
}
