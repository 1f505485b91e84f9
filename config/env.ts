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
  projectionsMode,
  type ProjectionsMode,
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

export type { Config } from "./config-shape.ts";
import type { Config } from "./config-shape.ts";

export { DEV_NOTIFICATION_SECRETS, type NotificationSecrets } from "./notification-secrets.ts";
import { DEV_NOTIFICATION_SECRETS } from "./notification-secrets.ts";

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
    SWITCHYARD_PROJECTIONS: variable<ProjectionsMode>("on", projectionsMode),
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
