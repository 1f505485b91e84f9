// The process environment, parsed once: every variable the platform's roles read, its default, its
// validation and its place in the typed `Config`. The roles' modules take a `Config`, never
// `process.env`. Three things read the environment before a Config exists, on purpose: tracing
// (config/tracing.ts: OTEL_* must take effect before any module is instrumented), the log
// destination (config/log-format.ts: a process logs before it has parsed anything), and npm start's
// development defaults (scripts/start.ts sets them in the environment it then parses).
import { existsSync } from "node:fs";
import { z } from "zod";
import { DEFAULT_LOG_FLUSH_MS } from "./log-format.ts";
import {
  basicAuth,
  bootstrapKeys,
  cardKey,
  cardKeyList,
  dirList,
  duration,
  durationList,
  flag,
  integer,
  logLevel,
  matching,
  onOff,
  operatorKeys,
  shown,
  url,
  urlList,
  variable,
  type BootstrapKey,
  type LogLevel,
  type OperatorKey,
} from "./env-values.ts";

/** Where the services are when nothing says otherwise (the bench and the tests use the same). */
export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

export {
  LOG_LEVELS,
  OPERATOR_ROLES,
  type BootstrapKey,
  type LogLevel,
  type OperatorKey,
  type OperatorRole,
} from "./env-values.ts";

export type Config = {
  gateway: { host: string; port: number; replyWaitMs: number };
  /** The gateway's gRPC server (docs/grpc.md); port undefined: GRPC_PORT=off, none. */
  grpc: {
    port: number | undefined;
    watchesPerMerchant: number;
    tls?: { certFile: string; keyFile: string };
  };
  /** `url`: one server, or a cluster's servers comma-separated (streams/connection.ts splits them). */
  /**
   * `url`: one server or a comma-separated list. Credentials when the servers require them (never
   * logged): a user and password, or a `.creds` file (a user JWT and its NKey seed).
   */
  nats: { url: string; user?: string; password?: string; credsFile?: string };
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
  /**
   * A worker running without the gateway serves its own /metrics here (PSP health, routing, attempts).
   * `projections`: whether the worker also runs the projections (read models, settlement followers,
   * challenge expiry, webhook dispatcher and sender); off when a `projector` process runs them.
   */
  worker: { metricsPort: number; projections: boolean };
  /** The projector role (actors/projector-main.ts) serves its /metrics here. */
  projector: { metricsPort: number };
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
  sandbox: { url: string; port: number; slowCardDelayMs: number; persist: boolean; retainCharges: number };
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
  /** How long PAY_OUT (the merchant events feed for internal systems) keeps an event. */
  merchantEventsMaxAgeMs: number;
  /**
   * How long a worker's member entry and partition leases live without renewal (renewed every third
   * of it): a dead worker's partitions move to the others within about this long.
   */
  leaseTtlMs: number;
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
  /** How long a JSON log line may wait in the buffer (0: written at once); see config/log-format.ts. */
  logFlushMs: number;
  /** Where `scripts/local-services.ts` looks for server binaries besides PATH; undefined = its default. */
  binDirs: string[] | undefined;
};

export { DEV_NOTIFICATION_SECRETS, type NotificationSecrets } from "./notification-secrets.ts";
import { DEV_NOTIFICATION_SECRETS, type NotificationSecrets } from "./notification-secrets.ts";

/** The configuration with the development secrets wherever none is set (development compositions only). */
export function withDevelopmentSecrets(config: Config): { config: Config; filled: string[] } {
  const n = config.notifications;
  const filled = [
    ...(n.acmeWebhookSecret === undefined ? ["SWITCHYARD_ACME_WEBHOOK_SECRET"] : []),
    ...(n.boltHmacKey === undefined ? ["SWITCHYARD_BOLT_HMAC_KEY"] : []),
  ];
  return {
    config: {
      ...config,
      notifications: {
        ...n,
        acmeWebhookSecret: n.acmeWebhookSecret ?? DEV_NOTIFICATION_SECRETS.acmeWebhookSecret,
        boltHmacKey: n.boltHmacKey ?? DEV_NOTIFICATION_SECRETS.boltHmacKey,
      },
    },
    filled,
  };
}

export class ConfigError extends Error {
  override name = "ConfigError";
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration: ${problems.join("; ")}`);
    this.problems = problems;
  }
}

const EnvSchema = z
  .object({
    PORT: variable(8080, integer(0, 65535)), // 0: any free port (tests)
    HOST: variable("127.0.0.1", matching(/^[^\s/]+$/, "a host name or address")),
    // The gateway's gRPC port (docs/grpc.md), on HOST: 0 any free port (tests), `off` none.
    GRPC_PORT: variable<number | "off">(50051, (raw) =>
      raw === "off" ? { value: "off" } : integer(0, 65535)(raw),
    ),
    GRPC_TLS_CERT: variable<string | undefined>(undefined, (raw) =>
      existsSync(raw) ? { value: raw } : { problem: `no such file: ${shown(raw)}` },
    ),
    GRPC_TLS_KEY: variable<string | undefined>(undefined, (raw) =>
      existsSync(raw) ? { value: raw } : { problem: `no such file: ${shown(raw)}` },
    ),
    SWITCHYARD_GRPC_WATCHES_PER_MERCHANT: variable(32, integer(1, 10_000)),
    NATS_URL: variable(DEFAULT_NATS_URL, urlList(["nats:", "tls:"])),
    NATS_USER: variable<string | undefined>(
      undefined,
      matching(/^[^\s]{1,256}$/, "a user name without spaces"),
    ),
    // A secret: a bad value is described, never echoed.
    NATS_PASSWORD: variable<string | undefined>(undefined, (raw) =>
      /^[\x21-\x7e]{1,256}$/.test(raw)
        ? { value: raw }
        : { problem: "expected 1-256 printable characters without spaces (its value is not shown)" },
    ),
    NATS_CREDS: variable<string | undefined>(undefined, (raw) =>
      existsSync(raw) ? { value: raw } : { problem: `no such file: ${shown(raw)}` },
    ),
    REDIS_URL: variable(DEFAULT_REDIS_URL, url(["redis:", "rediss:"])),
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
    // No defaults: unset, that PSP's notification door is closed (see NotificationSecrets).
    SWITCHYARD_ACME_WEBHOOK_SECRET: variable<string | undefined>(undefined, (raw) =>
      /^[\x21-\x7e]{16,256}$/.test(raw)
        ? { value: raw }
        : { problem: "expected 16-256 printable characters (its value is not shown)" },
    ),
    SWITCHYARD_BOLT_HMAC_KEY: variable<string | undefined>(undefined, (raw) =>
      /^([0-9a-fA-F]{2}){16,64}$/.test(raw)
        ? { value: raw }
        : { problem: "expected a hex key of 16-64 bytes (its value is not shown)" },
    ),
    SWITCHYARD_NOTIFICATION_TOLERANCE_SEC: variable(300, integer(1, 86_400)),
    SWITCHYARD_ACME_NOTIFY_BASIC_AUTH: variable<string | undefined>(undefined, basicAuth),
    SWITCHYARD_BOLT_NOTIFY_BASIC_AUTH: variable<string | undefined>(undefined, basicAuth),
    SANDBOX_NOTIFY_URL: variable<string | undefined>(undefined, url(["http:", "https:"])),
    SANDBOX_URL: variable("http://127.0.0.1:8081", url(["http:", "https:"])),
    SANDBOX_PORT: variable(8081, integer(0, 65535)),
    SWITCHYARD_WORKER_METRICS_PORT: variable(9464, integer(0, 65535)),
    SWITCHYARD_PROJECTOR_METRICS_PORT: variable(9465, integer(0, 65535)),
    SWITCHYARD_PROJECTIONS: variable(true, onOff),
    SANDBOX_SLOW_CARD_DELAY_MS: variable(10_000, integer(0, 3_600_000)),
    SANDBOX_PERSIST: variable(true, flag),
    SANDBOX_RETAIN_CHARGES: variable(10_000, integer(1, 100_000_000)),
    SWITCHYARD_SNAPSHOT_EVERY: variable(10, integer(1, 1_000_000)),
    SWITCHYARD_PASSIVATE_AFTER_MS: variable(60_000, integer(100, 86_400_000)),
    SWITCHYARD_COMMAND_ACK_WAIT_MS: variable(30_000, integer(1_000, 3_600_000)),
    SWITCHYARD_COMMAND_MAX_DELIVER: variable(20, integer(2, 1_000)),
    SWITCHYARD_JANITOR_AFTER_MS: variable(60_000, integer(1_000, 86_400_000)),
    SWITCHYARD_CHALLENGE_EXPIRY: variable(3_600_000, duration(1_000, 7 * 86_400_000)),
    SWITCHYARD_CHALLENGE_SWEEP: variable<number | undefined>(undefined, duration(100, 3_600_000)),
    SWITCHYARD_STREAM_REPLICAS: variable(1, integer(1, 5)),
    SWITCHYARD_MERCHANT_EVENTS_MAX_AGE: variable(7 * 86_400_000, duration(60_000, 366 * 86_400_000)),
    SWITCHYARD_LEASE_TTL_MS: variable(10_000, integer(500, 600_000)),
    SWITCHYARD_WEBHOOK_ALLOW_HTTP_LOOPBACK: variable(false, flag),
    SWITCHYARD_WEBHOOK_ALLOW_PRIVATE: variable(false, flag),
    SWITCHYARD_WEBHOOK_SECRET_GRACE: variable(86_400_000, duration(0, 30 * 86_400_000)),
    SWITCHYARD_CARD_KEY: variable<Buffer | undefined>(undefined, cardKey),
    SWITCHYARD_CARD_KEYS_RETIRED: variable<Buffer[]>([], cardKeyList),
    SWITCHYARD_DATA_DIR: variable(".data", (raw) => ({ value: raw })),
    SWITCHYARD_BIN_DIRS: variable<string[] | undefined>(undefined, dirList),
    LOG_LEVEL: variable<LogLevel>("info", logLevel),
    // Read by config/log-format.ts's logDestination (the logger exists before a Config is passed
    // around); named here so a bad value stops start-up like any other.
    LOG_FLUSH_MS: variable(DEFAULT_LOG_FLUSH_MS, integer(0, 10_000)),
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
    if ((env.GRPC_TLS_CERT === undefined) !== (env.GRPC_TLS_KEY === undefined))
      ctx.addIssue({
        code: "custom",
        path: [env.GRPC_TLS_CERT === undefined ? "GRPC_TLS_CERT" : "GRPC_TLS_KEY"],
        message: "GRPC_TLS_CERT and GRPC_TLS_KEY go together: set both or neither",
      });
    if ((env.NATS_USER === undefined) !== (env.NATS_PASSWORD === undefined))
      ctx.addIssue({
        code: "custom",
        path: [env.NATS_USER === undefined ? "NATS_USER" : "NATS_PASSWORD"],
        message: "NATS_USER and NATS_PASSWORD go together: set both or neither",
      });
    if (env.NATS_CREDS !== undefined && env.NATS_USER !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["NATS_CREDS"],
        message: "a .creds file or a user and password, not both",
      });
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
    grpc: {
      port: env.GRPC_PORT === "off" ? undefined : env.GRPC_PORT,
      watchesPerMerchant: env.SWITCHYARD_GRPC_WATCHES_PER_MERCHANT,
      ...(env.GRPC_TLS_CERT !== undefined &&
        env.GRPC_TLS_KEY !== undefined && {
          tls: { certFile: env.GRPC_TLS_CERT, keyFile: env.GRPC_TLS_KEY },
        }),
    },
    nats: {
      url: env.NATS_URL,
      ...(env.NATS_USER !== undefined && { user: env.NATS_USER }),
      ...(env.NATS_PASSWORD !== undefined && { password: env.NATS_PASSWORD }),
      ...(env.NATS_CREDS !== undefined && { credsFile: env.NATS_CREDS }),
    },
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
      basicAuth: {
        ...(env.SWITCHYARD_ACME_NOTIFY_BASIC_AUTH !== undefined && {
          acme: env.SWITCHYARD_ACME_NOTIFY_BASIC_AUTH,
        }),
        ...(env.SWITCHYARD_BOLT_NOTIFY_BASIC_AUTH !== undefined && {
          bolt: env.SWITCHYARD_BOLT_NOTIFY_BASIC_AUTH,
        }),
      },
      sandboxNotifyUrl: env.SANDBOX_NOTIFY_URL,
    },
    worker: { metricsPort: env.SWITCHYARD_WORKER_METRICS_PORT, projections: env.SWITCHYARD_PROJECTIONS },
    projector: { metricsPort: env.SWITCHYARD_PROJECTOR_METRICS_PORT },
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
      retainCharges: env.SANDBOX_RETAIN_CHARGES,
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
    merchantEventsMaxAgeMs: env.SWITCHYARD_MERCHANT_EVENTS_MAX_AGE,
    leaseTtlMs: env.SWITCHYARD_LEASE_TTL_MS,
    webhookEndpoints: {
      allowHttpLoopback: env.SWITCHYARD_WEBHOOK_ALLOW_HTTP_LOOPBACK,
      allowPrivate: env.SWITCHYARD_WEBHOOK_ALLOW_PRIVATE,
      secretGraceMs: env.SWITCHYARD_WEBHOOK_SECRET_GRACE,
    },
    cardKey: env.SWITCHYARD_CARD_KEY,
    retiredCardKeys: env.SWITCHYARD_CARD_KEYS_RETIRED,
    dataDir: env.SWITCHYARD_DATA_DIR,
    logLevel: env.LOG_LEVEL,
    logFlushMs: env.LOG_FLUSH_MS,
    binDirs: env.SWITCHYARD_BIN_DIRS,
  }));

/** Parses the environment; throws a `ConfigError` naming every bad variable at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const result = EnvSchema.safeParse(env);
  if (result.success) return result.data;
  throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`));
}
