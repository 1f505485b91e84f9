// The event store: an entity's history is the subject `pay.evt.<id>` in PAY_EVT (the system of
// record). It stores and reads frames (EventFrame) and their stream sequences and knows nothing of
// what the events mean: the actor validates, folds and snapshots. Appends are fenced with
// Nats-Expected-Last-Subject-Sequence, so two live copies of one payment can never both write: the
// loser gets WrongLastSequenceError, reloads and decides again. Frames are chained (streams/chain.ts):
// each carries the hash of the stored bytes of the one before, so every read frame comes with the
// hash of its own bytes and every append returns the hash of what it stored: the next append's `prev`.
import type { JetStreamClient, JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/transport-node";
import { WireHeaders } from "./wire-headers.ts";
import type { Metrics } from "../config/metrics.ts";
import { SpanKind, endSpan, startSpan, tracingEnabled } from "../config/tracing.ts";
import { chainHash, genesisHash } from "./chain.ts";
import { EventFrame, Header, encode, type EventFrameV2 } from "./envelopes.ts";
import { isNoResponders, isWrongLastSequence } from "./jetstream-errors.ts";
import { eventSubject, type Topology } from "./topology.ts";
import { injectSpan } from "./trace-headers.ts";

export class WrongLastSequenceError extends Error {
  override name = "WrongLastSequenceError";
}

/** A stored frame that cannot be read: a bug or tampering, never retried into success. */
export class CorruptEventError extends Error {
  override name = "CorruptEventError";
}

/** A frame as read, with its stream sequence and the SHA-256 of its stored bytes. */
export type StoredFrame = EventFrame & { seq: number; hash: string };

/** Where an append continues from: the entity's last frame (sequence 0 and no hash for a new one). */
export type AppendAt = {
  lastSeq: number;
  eventNo: number;
  /**
   * Hash of the stored bytes of the frame at lastSeq, known from loading or from the last append.
   * Without it (lastSeq > 0), the last frame is read once to learn it.
   */
  lastHash?: string | undefined;
};

/** Where a frame was stored (stream sequence, subject), its chain hash, and the bytes stored. */
export type Appended = { seq: number; subject: string; hash: string; data: Uint8Array };

/**
 * How long an append waits in the process for its stream to answer again after "no responders" (the
 * stream's leader died and the others are electing one: 5–6 s on the three-node cluster, longer on
 * a loaded one). Without it the command failed at once and its redelivery waited the doubling delay
 * of a failure we cannot classify (1, 2, 4, 8, 16 s … by delivery count), so a payment caught in an
 * election could sit 16–32 s after the stream was back (a CI run of the cluster faults: three
 * payments not at rest 30 s after the load). Nothing is stored by a request no server answered, and
 * the append is fenced and deduplicated, so asking again is safe; the command keeps its claim
 * meanwhile (its consumer's heartbeat).
 */
export const NO_LEADER_WAIT_MS = 10_000;
const NO_LEADER_FIRST_RETRY_MS = 250;
const NO_LEADER_MAX_RETRY_MS = 2_000;

export type EventStoreOptions = { noLeaderWaitMs?: number };

export class EventStore {
  readonly #noLeaderWaitMs: number;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly topo: Topology,
    private readonly metrics: Metrics,
    opts: EventStoreOptions = {},
  ) {
    this.#noLeaderWaitMs = opts.noLeaderWaitMs ?? NO_LEADER_WAIT_MS;
  }

  /** The entity's last frame, or undefined when it has none. */
  async last(id: string): Promise<StoredFrame | undefined> {
    const subject = eventSubject(this.topo, id);
    const msg = await this.jsm.direct.getMessage(this.topo.eventStream, { last_by_subj: subject });
    return msg ? decodeFrame(msg) : undefined;
  }

  /** The entity's frames after stream sequence `after`, oldest first, up to and including `last`. */
  async *frames(id: string, after: number, last: StoredFrame): AsyncGenerator<StoredFrame> {
    const subject = eventSubject(this.topo, id);
    let seq = after;
    while (seq < last.seq) {
      let frame = last;
      if (seq + 1 !== last.seq) {
        const msg = await this.jsm.direct.getMessage(this.topo.eventStream, {
          seq: seq + 1,
          next_by_subj: subject,
        });
        if (!msg) return;
        frame = decodeFrame(msg);
      }
      if (frame.seq > last.seq) return;
      yield frame;
      seq = frame.seq;
    }
  }

  /**
   * Append the events decided for one command as one message. `Nats-Msg-Id = <id>:<firstEventNo>`
   * makes a retried publish (ack lost) a no-op; the fence makes a concurrent writer fail. An entity
   * believed new appends at expected sequence 0: if it is not new, the fence says so.
   * Returns the new stream sequence and the hash of the bytes stored there.
   */
  async append(
    id: string,
    at: AppendAt,
    events: readonly unknown[],
    traceparent?: string,
    o: {
      /** Asked before each new try after "no responders": false stops the wait (the writer's lease lapsed). */
      mayStillWrite?: () => boolean;
      /** Told the subject and the bytes just before they are published (the first try only). */
      beforePublish?: (subject: string, data: Uint8Array) => void;
    } = {},
  ): Promise<Appended> {
    const frame: EventFrameV2 = {
      v: 2,
      paymentId: id,
      firstEventNo: at.eventNo + 1,
      events: [...events],
      ...(traceparent !== undefined && { traceId: traceparent }),
      prev: await this.prevOf(id, at),
    };
    const data = encode(frame);
    const h = new WireHeaders();
    const subject = eventSubject(this.topo, id);
    // Tracing on: one PRODUCER span per append, a child of the command's handling; the stored
    // message's header then names the append (the frame's traceId keeps the handling's traceparent).
    const span = tracingEnabled()
      ? startSpan(`append ${this.topo.eventStream}`, SpanKind.PRODUCER, traceparent, {
          "messaging.system": "nats",
          "messaging.destination.name": subject,
          "switchyard.events": events.length,
        })
      : undefined;
    if (span !== undefined) injectSpan(h, span);
    else if (traceparent) h.set(Header.traceparent, traceparent);
    o.beforePublish?.(subject, data);
    try {
      const appended = await this.publishFrame(id, at, subject, data, h, o.mayStillWrite ?? (() => true));
      endSpan(span);
      return appended;
    } catch (err) {
      endSpan(span, err);
      throw err;
    }
  }

  private async publishFrame(
    id: string,
    at: AppendAt,
    subject: string,
    data: Uint8Array,
    h: MsgHdrs,
    mayStillWrite: () => boolean,
  ): Promise<Appended> {
    const giveUpAt = performance.now() + this.#noLeaderWaitMs;
    for (
      let wait = NO_LEADER_FIRST_RETRY_MS, waited = false;
      ;
      wait = Math.min(wait * 2, NO_LEADER_MAX_RETRY_MS)
    ) {
      try {
        const appended = await this.publishOnce(id, at, subject, data, h);
        if (waited) this.metrics.appendNoLeaderWaits.inc({ outcome: "stored" });
        return appended;
      } catch (err) {
        if (!isNoResponders(err)) throw err;
        if (performance.now() + wait > giveUpAt) {
          this.metrics.appendNoLeaderWaits.inc({ outcome: "gave_up" });
          throw err;
        }
        waited = true;
        await new Promise((resolve) => setTimeout(resolve, wait));
        if (!mayStillWrite()) {
          this.metrics.appendNoLeaderWaits.inc({ outcome: "gave_up" });
          throw err;
        }
      }
    }
  }

  private async publishOnce(
    id: string,
    at: AppendAt,
    subject: string,
    data: Uint8Array,
    h: MsgHdrs,
  ): Promise<Appended> {
    try {
      const ack = await this.js.publish(subject, data, {
        msgID: `${id}:${at.eventNo + 1}`,
        expect: { lastSubjectSequence: at.lastSeq, streamName: this.topo.eventStream },
        headers: h,
        retries: 3,
        timeout: 5_000,
      });
      // JetStream checks Nats-Msg-Id before the fence: a duplicate ack means a message with this
      // event number is already stored — our own retried publish, or another writer's events.
      // Either way the caller's state is stale: reload and decide again (idempotent for a retry).
      if (ack.duplicate) {
        this.metrics.fenceConflicts.inc();
        throw new WrongLastSequenceError(`${id} already has event ${at.eventNo + 1}`);
      }
      return { seq: ack.seq, subject, hash: chainHash(data), data };
    } catch (err) {
      if (err instanceof WrongLastSequenceError) throw err;
      if (isWrongLastSequence(err)) {
        this.metrics.fenceConflicts.inc();
        throw new WrongLastSequenceError(`${id} was written by someone else`, { cause: err });
      }
      throw err;
    }
  }

  /** What the next frame chains to. Reading the last frame is the fallback, not the hot path. */
  private async prevOf(id: string, at: AppendAt): Promise<string> {
    if (at.lastSeq === 0) return genesisHash(id);
    if (at.lastHash !== undefined) return at.lastHash;
    const last = await this.last(id);
    // Someone appended since the caller's position: the fence would refuse this append anyway.
    if (last?.seq !== at.lastSeq)
      throw new WrongLastSequenceError(`${id} is not at seq ${at.lastSeq} any more`);
    return last.hash;
  }
}

function decodeFrame(msg: StoredMsg): StoredFrame {
  let json: unknown;
  try {
    json = msg.json();
  } catch (cause) {
    throw new CorruptEventError(`event frame at seq ${msg.seq} is not JSON`, { cause });
  }
  const parsed = EventFrame.safeParse(json);
  if (!parsed.success)
    throw new CorruptEventError(`undecodable event frame at seq ${msg.seq}: ${parsed.error.message}`);
  return { ...parsed.data, seq: msg.seq, hash: chainHash(msg.data) };
}
