// The ids of the PSP notifications the door has taken, remembered for 30 days in a JetStream KV bucket
// (`<prefix>_ntf_seen`, entries expire by the bucket's max age). PAY_CMD's own dedupe forgets a
// message id after two minutes, and bolt's (Adyen's) signature carries no timestamp: a genuine body
// captured once verifies for ever. So the door asks here first, and a notification seen before is
// answered as a duplicate without reaching its payment. Thirty days covers the PSPs' own redelivery
// horizon (Adyen retries an unacknowledged notification for up to 30 days; Stripe for 3); past it, the
// payment's decider still recognises what it already recorded (notification identities are signed).
import { createHash } from "node:crypto";
import type { JetStreamClient } from "@nats-io/jetstream";
import { type KV } from "@nats-io/kv";
import { openBucket } from "./kv-open.ts";

export const PROCESSED_NOTIFICATION_TTL_MS = 30 * 86_400_000;

/** `<prefix>_ntf_seen`, or `ntf_seen` without a prefix. */
export function processedBucketName(prefix: string): string {
  return prefix ? `${prefix}_ntf_seen` : "ntf_seen";
}

/** A KV key for one notification: the PSP's name and a digest of its id (ids hold any characters). */
export function processedKey(psp: string, id: string): string {
  return `${psp.replace(/[^-\w]/g, "_")}.${createHash("sha256").update(id).digest("hex").slice(0, 48)}`;
}

export class ProcessedNotifications {
  readonly bucket: string;
  #kv: KV | undefined;

  constructor(
    private readonly js: JetStreamClient,
    prefix: string,
    private readonly opts: { replicas?: number; ttlMs?: number } = {},
  ) {
    this.bucket = processedBucketName(prefix);
  }

  /** Creates the bucket if needed (idempotent, from several processes at once). */
  async ensure(): Promise<this> {
    this.#kv = await openBucket(this.js, this.bucket, {
      history: 1,
      ttl: this.opts.ttlMs ?? PROCESSED_NOTIFICATION_TTL_MS,
      replicas: this.opts.replicas ?? 1,
    });
    return this;
  }

  /** Whether this notification was taken before (within the TTL). */
  async seen(psp: string, id: string): Promise<boolean> {
    const entry = await this.#bucket().get(processedKey(psp, id));
    return entry !== null && entry.operation === "PUT";
  }

  /** Remembers it, once it is stored (sent to its payment or kept as unmatched). */
  async remember(psp: string, id: string, at: Date): Promise<void> {
    await this.#bucket().put(processedKey(psp, id), at.toISOString());
  }

  #bucket(): KV {
    if (!this.#kv) throw new Error("ProcessedNotifications used before ensure()");
    return this.#kv;
  }
}
