// PAY_DLQ: commands that can never succeed as they are (undecodable, a bug, a corrupt history, or
// retries exhausted). Each record keeps the original message (subject, data, trace header), the
// error, the delivery count and the time, so an operator can read why and put it back once the
// cause is fixed. A redriven record is re-published to its original subject with a fresh message id
// and then removed from PAY_DLQ.
import type { JetStreamClient, JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { z } from "zod";
import { Header, encode } from "./envelopes.ts";
import type { Topology } from "./topology.ts";

export const DeadLetter = z.object({
  v: z.literal(1),
  /** Where the command was published, and so where a redrive puts it back. */
  subject: z.string(),
  /** The original message body, base64: it may be exactly what could not be decoded. */
  data: z.string(),
  traceparent: z.string().optional(),
  streamSeq: z.number().int().nonnegative(),
  deliveryCount: z.number().int().nonnegative(),
  reason: z.string(),
  error: z.string(),
  at: z.string(),
  /** `data` (and `subject`) are a masked copy: the original held a card number and was erased. */
  redacted: z.literal(true).optional(),
});
export type DeadLetter = z.infer<typeof DeadLetter>;

export type StoredDeadLetter = DeadLetter & { id: number };

export class DeadLetterNotFoundError extends Error {
  override name = "DeadLetterNotFoundError";
}

export class DeadLetterRedactedError extends Error {
  override name = "DeadLetterRedactedError";
}

export class DeadLetters {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly topo: Topology,
  ) {}

  async put(d: DeadLetter): Promise<void> {
    await this.js.publish(`${this.topo.deadLetterBase}.${d.streamSeq}`, encode(d), {
      // A retried put (ack lost, or the same message dead-lettered twice) stores one record.
      msgID: `dlq:${d.subject}:${d.streamSeq}`,
      timeout: 5_000,
    });
  }

  /** Oldest first, from sequence `after` (exclusive), at most `limit`. */
  async list(opts: { after?: number; limit: number }): Promise<StoredDeadLetter[]> {
    const out: StoredDeadLetter[] = [];
    let seq = opts.after ?? 0;
    while (out.length < opts.limit) {
      const msg = await this.jsm.direct.getMessage(this.topo.deadLetterStream, {
        seq: seq + 1,
        next_by_subj: `${this.topo.deadLetterBase}.>`,
      });
      if (!msg) break;
      seq = msg.seq;
      const d = decode(msg);
      if (d) out.push(d);
    }
    return out;
  }

  async get(id: number): Promise<StoredDeadLetter> {
    const msg = await this.jsm.direct.getMessage(this.topo.deadLetterStream, { seq: id }).catch(() => null);
    const d = msg && msg.seq === id ? decode(msg) : undefined;
    if (!d) throw new DeadLetterNotFoundError(`no dead letter ${id}`);
    return d;
  }

  async count(): Promise<number> {
    const info = await this.jsm.streams.info(this.topo.deadLetterStream);
    return info.state.messages;
  }

  /** Put the original command back on its subject, then forget the record. */
  async redrive(id: number): Promise<{ subject: string; seq: number }> {
    const d = await this.get(id);
    // A masked copy is not the command any more: put back, it would be refused again or, worse, act.
    if (d.redacted)
      throw new DeadLetterRedactedError(`dead letter ${id} is a masked copy and cannot be redriven`);
    const h = headers();
    if (d.traceparent) h.set(Header.traceparent, d.traceparent);
    const ack = await this.js.publish(d.subject, Buffer.from(d.data, "base64"), {
      msgID: `redrive:${this.topo.deadLetterStream}:${id}`,
      headers: h,
      timeout: 5_000,
    });
    await this.jsm.streams.deleteMessage(this.topo.deadLetterStream, id, false).catch(() => false);
    return { subject: d.subject, seq: ack.seq };
  }
}

function decode(msg: StoredMsg): StoredDeadLetter | undefined {
  try {
    const parsed = DeadLetter.safeParse(msg.json());
    return parsed.success ? { ...parsed.data, id: msg.seq } : undefined;
  } catch {
    return undefined;
  }
}
