// PSP notifications the platform could not place on a payment (none with that id, or the payment
// does not know the refund or dispute named), kept in JetStream (PSP_NTF) for reconciliation instead
// of dropped: the PSP was answered 2xx and will not send them again. Operators list them over
// GET /ops/notifications?unmatched=true. The record is the normalized notification (no secrets, no
// raw body), why it was kept and when; the same notification kept twice is one record (message id).
import type { JetStreamClient, JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { z } from "zod";
import { decodeJson, encode } from "./envelopes.ts";
import { unmatchedNotificationSubject, type Topology } from "./topology.ts";

export const UnmatchedNotification = z.object({
  v: z.literal(1),
  psp: z.string(),
  /** The notification id (the PSP's dedupe key). */
  id: z.string(),
  /** The payment it names (our payment id as the PSP has it). */
  paymentReference: z.string(),
  kind: z.string(),
  reason: z.string(),
  /** The normalized notification (actors/payment/core/notification.ts), as verified. */
  notification: z.record(z.string(), z.unknown()),
  receivedAt: z.string(),
});
export type UnmatchedNotification = z.infer<typeof UnmatchedNotification>;

export type StoredUnmatched = UnmatchedNotification & { seq: number };

export class UnmatchedNotifications {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly topo: Topology,
  ) {}

  /** Stored once acknowledged by JetStream: the door answers the PSP only after this. */
  async keep(r: UnmatchedNotification): Promise<void> {
    await this.js.publish(unmatchedNotificationSubject(this.topo, r.psp, r.id), encode(r), {
      msgID: `unmatched:${r.psp}:${r.id}`,
      timeout: 5_000,
    });
  }

  /** Oldest first, from sequence `after` (exclusive), at most `limit`. */
  async list(opts: { after?: number; limit: number }): Promise<StoredUnmatched[]> {
    const out: StoredUnmatched[] = [];
    let seq = opts.after ?? 0;
    while (out.length < opts.limit) {
      const msg = await this.jsm.direct.getMessage(this.topo.notificationStream, {
        seq: seq + 1,
        next_by_subj: `${this.topo.notificationBase}.unmatched.>`,
      });
      if (!msg) break;
      seq = msg.seq;
      const r = decode(msg);
      if (r) out.push(r);
    }
    return out;
  }
}

function decode(msg: StoredMsg): StoredUnmatched | undefined {
  try {
    const parsed = UnmatchedNotification.safeParse(decodeJson(msg.data));
    return parsed.success ? { ...parsed.data, seq: msg.seq } : undefined;
  } catch {
    return undefined;
  }
}
