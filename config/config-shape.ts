// The typed configuration every role reads (config/env.ts parses the environment into it): what a
// role is given, apart from how each variable is spelt, defaulted and checked.
import type { BootstrapKey, LogLevel, OperatorKey, ProjectionsMode } from "./env-values.ts";
import type { NotificationSecrets } from "./notification-secrets.ts";

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
   * `projections`: where the worker runs the projections (read models, settlement followers,
   * challenge expiry, webhook dispatcher and sender): `on` in the worker's own event loop (the
   * default), `thread` on a worker thread of its own (actors/projections-thread.ts), `off` not at
   * all (a `projector` process runs them).
   */
  worker: { metricsPort: number; projections: ProjectionsMode };
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
