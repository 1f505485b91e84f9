// The one place that names streams, subjects, consumers and Redis keys, and creates them
// idempotently. A prefix keeps deployments and test runs apart: nothing else builds a subject.
import type { JetStreamManager, StreamConfig } from "@nats-io/jetstream";
import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { createHash } from "node:crypto";
import { isStreamNotFound } from "./jetstream-errors.ts";

export type Topology = {
  prefix: string;
  partitions: number;
  commandStream: string;
  eventStream: string;
  /**
   * `<prefix>.pay.cmd` or `pay.cmd`: commands go to `<base>.<partition>.<merchantId>.<paymentId>`
   * (commandSubject), so nats-server permissions can say which merchant a sender acts for.
   */
  commandBase: string;
  eventBase: string;
  redisPrefix: string;
  /**
   * Inbox prefix for replies from actors to waiting senders (core NATS, not stored): the platform's
   * own buses under `<replyBase>.~gw.`, internal clients under `<replyBase>.<merchantId>.` (replyInbox).
   */
  replyBase: string;
  /** How long a command may be in a worker's hands without a heartbeat before JetStream redelivers it. */
  commandAckWaitMs: number;
  /** Deliveries of one command before it is dead-lettered (the last one dead-letters instead of retrying). */
  commandMaxDeliver: number;
  /** Dead letters: commands that could not be handled, kept for operators. */
  deadLetterStream: string;
  deadLetterBase: string;
  /** Settlement: every ingested report's lines (in chunks) with their reconciliation outcome. */
  settleStream: string;
  settleBase: string;
  /** Reconciliation: operators' resolutions and the missing-line sweep's findings. */
  reconStream: string;
  reconBase: string;
  /** Every operator action, append-only (policy changes, rotation, resolutions, key changes). */
  auditStream: string;
  auditBase: string;
  /**
   * The durable consumer the webhook dispatcher was until it became a follower (actors/webhooks/
   * dispatcher.ts): read once, at the upgrade, for where its acknowledgements reached; never created.
   */
  webhookConsumer: string;
  /** PSP notifications the platform could not place (unknown payment): kept for reconciliation. */
  notificationStream: string;
  notificationBase: string;
  /** How long a payment may sit with an open effect before the janitor re-drives it. */
  janitorAfterMs: number;
  /** Stream replicas (3 on a production cluster). */
  replicas: number;
  /**
   * The merchant events feed for internal systems (docs/nats-permissions.md): each merchant-facing
   * event (the webhook body) on `<merchantEventBase>.<merchantId>.<paymentId>`, kept `merchantEventMaxAgeMs`.
   */
  merchantEventStream: string;
  merchantEventBase: string;
  merchantEventMaxAgeMs: number;
};

export function topology(
  prefix: string,
  partitions: number,
  opts: {
    commandAckWaitMs?: number;
    commandMaxDeliver?: number;
    janitorAfterMs?: number;
    replicas?: number;
    merchantEventMaxAgeMs?: number;
  } = {},
): Topology {
  const dot = prefix ? `${prefix}.` : "";
  const us = prefix ? `${prefix}_` : "";
  return {
    prefix,
    partitions,
    commandStream: `${us}PAY_CMD`,
    eventStream: `${us}PAY_EVT`,
    commandBase: `${dot}pay.cmd`,
    eventBase: `${dot}pay.evt`,
    redisPrefix: prefix ? `${prefix}:` : "",
    replyBase: `${dot}pay.reply`,
    commandAckWaitMs: opts.commandAckWaitMs ?? 30_000,
    commandMaxDeliver: opts.commandMaxDeliver ?? 20,
    deadLetterStream: `${us}PAY_DLQ`,
    deadLetterBase: `${dot}pay.dlq`,
    settleStream: `${us}SETTLE`,
    settleBase: `${dot}settle`,
    reconStream: `${us}RECON`,
    reconBase: `${dot}recon`,
    auditStream: `${us}AUDIT`,
    auditBase: `${dot}audit`,
    webhookConsumer: `${us}webhooks`,
    notificationStream: `${us}PSP_NTF`,
    notificationBase: `${dot}psp.ntf`,
    janitorAfterMs: opts.janitorAfterMs ?? 60_000,
    replicas: opts.replicas ?? 1,
    merchantEventStream: `${us}PAY_OUT`,
    merchantEventBase: `${dot}pay.out`,
    merchantEventMaxAgeMs: opts.merchantEventMaxAgeMs ?? MERCHANT_EVENT_MAX_AGE_MS,
  };
}

/** How long PAY_OUT keeps a merchant event by default (SWITCHYARD_MERCHANT_EVENTS_MAX_AGE). */
export const MERCHANT_EVENT_MAX_AGE_MS = 7 * 86_400_000;

/** FNV-1a 32-bit, the hash NATS's own partition() subject mapping uses. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  const bytes = Buffer.from(s, "utf8");
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function partitionOf(t: Topology, paymentId: string): number {
  return fnv1a32(paymentId) % t.partitions;
}

/**
 * The subject token of a command that names no merchant (a PSP notification: the PSP knows our
 * payment id only). Never a merchant id (ID_PATTERN has no `~`), so no merchant's permission
 * (`pay.cmd.*.m_acme.*`) covers it: only the platform's own roles publish there.
 */
export const NO_MERCHANT_TOKEN = "~";

/** `<commandBase>.<partition>.<merchantId>.<paymentId>`; `merchantId` absent: NO_MERCHANT_TOKEN. */
export function commandSubject(t: Topology, merchantId: string | undefined, paymentId: string): string {
  return `${t.commandBase}.${partitionOf(t, paymentId)}.${merchantId ?? NO_MERCHANT_TOKEN}.${paymentId}`;
}

/** What a command subject says; `merchant` is undefined for the layout before merchants were in it. */
export type CommandAddress = { partition: number; merchant: string | undefined; paymentId: string };

/**
 * Reads `<commandBase>.<p>.<merchant>.<paymentId>`, or the older `<commandBase>.<p>.<paymentId>` of
 * commands stored before the upgrade (still handled, with no merchant to check). Undefined otherwise.
 */
export function parseCommandSubject(t: Topology, subject: string): CommandAddress | undefined {
  if (!subject.startsWith(`${t.commandBase}.`)) return undefined;
  const tokens = subject.slice(t.commandBase.length + 1).split(".");
  const partition = Number(tokens[0]);
  if (!Number.isInteger(partition) || partition < 0) return undefined;
  if (tokens.length === 2) return { partition, merchant: undefined, paymentId: tokens[1] ?? "" };
  if (tokens.length === 3) return { partition, merchant: tokens[1], paymentId: tokens[2] ?? "" };
  return undefined;
}

/** The reply token of the platform's own command buses (gateway, expiry sweep): never a merchant id. */
export const PLATFORM_REPLY_TOKEN = "~gw";

/** An inbox prefix under replyBase: the platform's (`owner` absent) or a merchant's internal client's. */
export function replyInbox(t: Topology, owner: string | undefined, unique: string): string {
  return `${t.replyBase}.${owner ?? PLATFORM_REPLY_TOKEN}.${unique}`;
}

/**
 * Whether a worker may answer a command on `replyTo`: only under replyBase, and only to the
 * platform's buses or to the command's own merchant's clients, so a command cannot make the worker
 * publish into another merchant's inbox or onto any other subject.
 */
export function replyAllowed(t: Topology, replyTo: string, merchantId: string | undefined): boolean {
  if (!replyTo.startsWith(`${t.replyBase}.`)) return false;
  const rest = replyTo.slice(t.replyBase.length + 1).split(".");
  if (rest.length < 2 || rest.some((token) => !/^[^\s*>]+$/.test(token))) return false;
  return rest[0] === PLATFORM_REPLY_TOKEN || (merchantId !== undefined && rest[0] === merchantId);
}

export function eventSubject(t: Topology, paymentId: string): string {
  return `${t.eventBase}.${paymentId}`;
}

/** One merchant event of one payment: an internal system filters on `<base>.<merchantId>.>`. */
export function merchantEventSubject(t: Topology, merchantId: string, paymentId: string): string {
  return `${t.merchantEventBase}.${merchantId}.${paymentId}`;
}

export function consumerName(partition: number): string {
  return `cmd-p${String(partition).padStart(3, "0")}`;
}

export function snapshotKey(t: Topology, paymentId: string): string {
  return `${t.redisPrefix}snap:${paymentId}`;
}

const TWO_MINUTES_NS = 2 * 60 * 1_000_000_000;

export function streamConfigs(t: Topology): Array<Partial<StreamConfig> & { name: string }> {
  return [
    {
      name: t.commandStream,
      subjects: [`${t.commandBase}.>`],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      num_replicas: t.replicas,
      discard: DiscardPolicy.Old,
      duplicate_window: TWO_MINUTES_NS,
    },
    {
      name: t.eventStream,
      subjects: [`${t.eventBase}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: t.replicas,
      allow_direct: true,
      duplicate_window: TWO_MINUTES_NS,
    },
    {
      name: t.deadLetterStream,
      subjects: [`${t.deadLetterBase}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: t.replicas,
      allow_direct: true,
      duplicate_window: TWO_MINUTES_NS,
    },
    ...[
      [t.settleStream, t.settleBase],
      [t.reconStream, t.reconBase],
      [t.auditStream, t.auditBase],
      [t.notificationStream, t.notificationBase],
    ].map(([name, base]) => ({
      name: name ?? "",
      subjects: [`${base}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: t.replicas,
      allow_direct: true,
      duplicate_window: TWO_MINUTES_NS,
    })),
    {
      // A feed, not a record: its source is PAY_EVT (through the webhook dispatcher's merchant
      // events), so it keeps only a window. Not allow_direct: internal systems read it by consumer.
      name: t.merchantEventStream,
      subjects: [`${t.merchantEventBase}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: t.replicas,
      max_age: t.merchantEventMaxAgeMs * 1_000_000,
      duplicate_window: TWO_MINUTES_NS,
    },
  ];
}

/** A subject token for a name from outside (a PSP's report id): itself when safe, else a digest. */
export function subjectToken(name: string): string {
  return /^[A-Za-z0-9_-]{1,64}$/.test(name)
    ? name
    : `h${createHash("sha256").update(name).digest("hex").slice(0, 40)}`;
}

/** One report's chunks and its closing record, in order, on one subject. */
export function settleSubject(t: Topology, psp: string, reportId: string): string {
  return `${t.settleBase}.report.${subjectToken(psp)}.${subjectToken(reportId)}`;
}

export function reconSubject(t: Topology, kind: "resolution" | "missing", exceptionId: string): string {
  return `${t.reconBase}.${kind}.${subjectToken(exceptionId)}`;
}

/** One kept notification: the same notification again lands on the same subject. */
export function unmatchedNotificationSubject(t: Topology, psp: string, notificationId: string): string {
  return `${t.notificationBase}.unmatched.${subjectToken(psp)}.${subjectToken(notificationId)}`;
}

/** Create or update streams and the per-partition consumers. Safe to run twice, or from two processes at once. */
export async function ensureTopology(jsm: JetStreamManager, t: Topology): Promise<void> {
  for (const cfg of streamConfigs(t)) await answered(() => ensureStream(jsm, cfg));
  for (let p = 0; p < t.partitions; p++) {
    await answered(() => ensureConsumer(jsm, t, p));
  }
}

/**
 * In a JetStream cluster (nats-server 2.9), a request about a stream another process is creating at
 * that very moment can go unanswered: the client times out (5 s). Roles started together against a
 * fresh cluster (npm run cluster, then the Procfile) did, two of three in each of three tries.
 * Asking again answers; every step here is idempotent, so it is asked again, four times at most.
 */
async function answered(step: () => Promise<void>, attempts = 5): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      if (attempt >= attempts || (err as Error).name !== "TimeoutError") throw err;
    }
  }
}

async function ensureStream(
  jsm: JetStreamManager,
  cfg: Partial<StreamConfig> & { name: string },
): Promise<void> {
  try {
    const info = await jsm.streams.info(cfg.name);
    await jsm.streams.update(cfg.name, { ...info.config, ...cfg });
  } catch (err) {
    if (!isStreamNotFound(err)) throw err;
    try {
      await jsm.streams.add(cfg);
    } catch (addErr) {
      // Another process created it between our info and add: that is fine.
      await jsm.streams.info(cfg.name).catch(() => {
        throw addErr;
      });
    }
  }
}

async function ensureConsumer(jsm: JetStreamManager, t: Topology, p: number): Promise<void> {
  await jsm.consumers.add(t.commandStream, {
    durable_name: consumerName(p),
    filter_subject: `${t.commandBase}.${p}.>`,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: t.commandAckWaitMs * 1_000_000,
    max_deliver: t.commandMaxDeliver,
    max_ack_pending: 1000,
  });
}

/** Every stream a topology names (its KV buckets are named by their stores). */
export function streamNames(t: Topology): string[] {
  return [
    t.commandStream,
    t.eventStream,
    t.deadLetterStream,
    t.settleStream,
    t.reconStream,
    t.auditStream,
    t.notificationStream,
    t.merchantEventStream,
  ];
}

/** Remove everything a topology created (tests and benchmarks clean up after themselves). */
export async function deleteTopology(jsm: JetStreamManager, t: Topology): Promise<void> {
  for (const name of streamNames(t)) {
    await jsm.streams.delete(name).catch(() => undefined);
  }
}

/** The Stripe-compatible layer's KV buckets (gateway/stripe/stores.ts): idempotency, payment intents. */
export function stripeBucketNames(prefix: string): { idempotency: string; intents: string } {
  const us = prefix ? `${prefix}_` : "";
  return { idempotency: `${us}stripe_idem`, intents: `${us}stripe_intents` };
}
