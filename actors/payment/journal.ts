// A payment's history as the actor reads and writes it: the event store's frames (streams/) plus the
// payment's own schema and fold. Nothing is appended that the reader would reject: events are
// checked against the schema that reads them before they are written, and a write that fails the
// check is a bug (poison), never stored. Loading starts from the Redis snapshot when one is usable
// and folds the tail after it; a missing or stale snapshot only means a longer replay. The position
// it returns carries the hash of the last stored frame, which the next append chains to
// (streams/chain.ts); a snapshot whose hash disagrees with the stream is not of this history and is
// ignored.
import type { AppendAt, Appended, EventStore, StoredFrame } from "../../streams/event-store.ts";
import { CorruptEventError } from "../../streams/event-store.ts";
import type { Snapshot, SnapshotStore } from "../../streams/snapshots.ts";
import type { PaymentEvent } from "./core/events.ts";
import { findUnsafeText, UNSAFE_TEXT } from "./core/contract.ts";
import { evolveAll } from "./core/evolve.ts";
import type { Payment, PaymentState } from "./core/state.ts";
import { PaymentEvents } from "./core/wire.ts";
import { forgetAppending, rememberAppended, rememberAppending } from "../projections/frames.ts";

/** A payment as loaded: its state and the positions an append must continue from. */
export type Loaded = {
  state: PaymentState;
  /** PAY_EVT sequence of the payment's last message (0: none): the fence for the next append. */
  lastSeq: number;
  /** SHA-256 of the stored bytes of the message at lastSeq (undefined when there is none): the next frame's `prev`. */
  lastHash: string | undefined;
  /** Number of events in the payment's history. */
  eventNo: number;
  /** Events replayed from JetStream on top of the snapshot (for metrics and tests). */
  replayed: number;
};

export const NEW_PAYMENT: Loaded = {
  state: undefined,
  lastSeq: 0,
  lastHash: undefined,
  eventNo: 0,
  replayed: 0,
};

/** Events that fail their own schema: appending them would make the payment unreadable. */
export class InvalidEventError extends Error {
  override name = "InvalidEventError";
}

/** This worker no longer holds the payment's partition: nothing was appended (see Journal). */
export class LeaseLostError extends Error {
  override name = "LeaseLostError";
}

export class Journal {
  /**
   * `mayWrite`: whether this process may write the payment's events right now (the worker: it still
   * holds the payment's partition by lease). A worker paused past its lease (GC, SIGSTOP) resumes
   * in the middle of a command whose partition another worker now owns: its append is refused here,
   * before the fence would have to (LeaseLostError, retried: the command goes back to the stream
   * for the new owner).
   */
  constructor(
    private readonly store: EventStore,
    private readonly snapshots: SnapshotStore,
    private readonly mayWrite: (paymentId: string) => boolean = () => true,
  ) {}

  async load(paymentId: string): Promise<Loaded> {
    const last = await this.store.last(paymentId);
    if (!last) return NEW_PAYMENT;
    const snap = await this.snapshots.get(paymentId);
    // A snapshot ahead of the stream (stream recreated, wrong deployment) cannot be trusted.
    const base = snap && snap.seq <= last.seq && isPaymentLike(snap.state) ? snap : undefined;
    const loaded = await this.fold(paymentId, base, last);
    if (loaded !== undefined) return loaded;
    this.snapshots.rejected(paymentId, "its hash is not the stream's: not of this history");
    return (await this.fold(paymentId, undefined, last)) as Loaded;
  }

  /** Fold the frames after `base` up to `last`; undefined when `base` does not chain into them. */
  private async fold(
    paymentId: string,
    base: Snapshot | undefined,
    last: StoredFrame,
  ): Promise<Loaded | undefined> {
    let state = base?.state as PaymentState;
    let eventNo = base?.eventNo ?? 0;
    let seq = base?.seq ?? 0;
    let lastHash = base?.lastHash;
    if (base?.lastHash !== undefined && base.seq === last.seq && base.lastHash !== last.hash)
      return undefined;
    if (seq === last.seq) lastHash = last.hash;
    let replayed = 0;
    for await (const frame of this.store.frames(paymentId, seq, last)) {
      // The first frame after the snapshot must chain to the frame the snapshot was taken at.
      if (replayed === 0 && lastHash !== undefined && frame.v === 2 && frame.prev !== lastHash)
        return undefined;
      const events = eventsOf(paymentId, frame, eventNo);
      state = evolveAll(state, events);
      eventNo += events.length;
      replayed += events.length;
      seq = frame.seq;
      lastHash = frame.hash;
    }
    return { state, lastSeq: seq, lastHash, eventNo, replayed };
  }

  /**
   * The payment's whole history, oldest first, straight from JetStream (no snapshot). Used to answer
   * a repeated request with its first result; a payment has tens of events, not thousands.
   */
  async history(paymentId: string): Promise<PaymentEvent[]> {
    const last = await this.store.last(paymentId);
    if (!last) return [];
    const events: PaymentEvent[] = [];
    for await (const frame of this.store.frames(paymentId, 0, last))
      events.push(...eventsOf(paymentId, frame, events.length));
    return events;
  }

  /** Validate, then append with the fence; returns the new stream sequence and the stored frame's hash. */
  async append(
    paymentId: string,
    at: AppendAt,
    events: readonly PaymentEvent[],
    traceparent?: string,
  ): Promise<Appended> {
    const checked = PaymentEvents.safeParse(events);
    if (!checked.success)
      throw new InvalidEventError(
        `payment ${paymentId}: refusing to append events the reader would reject: ${checked.error.message}`,
      );
    // The edges refuse such text; this is the last line, for what no edge sees (a PSP's answer).
    // Appended, it would stop every follower that writes it to PostgreSQL.
    const unsafe = findUnsafeText(events);
    if (unsafe !== undefined)
      throw new InvalidEventError(
        `payment ${paymentId}: refusing to append events no follower could store: ${unsafe.path} ${UNSAFE_TEXT[unsafe.problem]}`,
      );
    if (!this.mayWrite(paymentId))
      throw new LeaseLostError(
        `payment ${paymentId}: its partition is no longer this worker's; not appended`,
      );
    // This process's readers of PAY_EVT, if it has any, read these events back without parsing them
    // again: known by their subject and bytes from before the publish (a reader may see the message
    // before the append's acknowledgement comes back), by their sequence after it.
    const frame = { paymentId, firstEventNo: at.eventNo + 1, events: checked.data };
    let sent: { subject: string; data: Uint8Array } | undefined;
    // While the stream has no leader the store waits (streams/event-store.ts); it stops when this
    // process may no longer write the payment (the partition's lease lapsed meanwhile).
    let appended: Appended;
    try {
      appended = await this.store.append(paymentId, at, events, traceparent, {
        mayStillWrite: () => this.mayWrite(paymentId),
        beforePublish: (subject, data) => {
          sent = { subject, data };
          rememberAppending(subject, frame, events, data);
        },
      });
    } catch (err) {
      if (sent) forgetAppending(sent.subject, sent.data);
      throw err;
    }
    rememberAppended(appended.subject, appended.seq, appended.data);
    return appended;
  }

  async snapshot(paymentId: string, loaded: Loaded): Promise<void> {
    if (!loaded.state) return;
    await this.snapshots.put(paymentId, {
      seq: loaded.lastSeq,
      eventNo: loaded.eventNo,
      ...(loaded.lastHash !== undefined && { lastHash: loaded.lastHash }),
      state: loaded.state,
    });
  }
}

function eventsOf(paymentId: string, frame: StoredFrame, eventNo: number): PaymentEvent[] {
  if (frame.firstEventNo !== eventNo + 1)
    throw new CorruptEventError(
      `payment ${paymentId}: expected event ${eventNo + 1} at seq ${frame.seq}, found ${frame.firstEventNo}`,
    );
  const parsed = PaymentEvents.safeParse(frame.events);
  if (!parsed.success)
    throw new CorruptEventError(
      `payment ${paymentId}: undecodable events at seq ${frame.seq}: ${parsed.error.message}`,
    );
  return parsed.data;
}

/** The snapshot's shape is ours (written by this code, same schema version): a cheap sanity check. */
function isPaymentLike(v: unknown): v is Payment {
  return typeof v === "object" && v !== null && "id" in v && "status" in v;
}
