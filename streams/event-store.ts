// The event store: a payment's history is the subject `pay.evt.<id>` in PAY_EVT (the system of
// record), with Redis snapshots to shorten replays. Appends are fenced with
// Nats-Expected-Last-Subject-Sequence, so two live copies of one payment can never both write:
// the loser gets WrongLastSequenceError, reloads and decides again.
import type { JetStreamClient, JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { JetStreamApiError } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import type { PaymentEvent } from "../actors/payment/events.ts";
import { evolveAll } from "../actors/payment/evolve.ts";
import type { PaymentState } from "../actors/payment/state.ts";
import { EventEnvelope, Header, encode } from "./envelopes.ts";
import type { Metrics } from "./metrics.ts";
import type { SnapshotStore } from "./snapshots.ts";
import { eventSubject, type Topology } from "./topology.ts";

export class WrongLastSequenceError extends Error {
  override name = "WrongLastSequenceError";
}

export class CorruptEventError extends Error {
  override name = "CorruptEventError";
}

/** A payment as loaded: its state and the two positions an append must continue from. */
export type Loaded = {
  state: PaymentState;
  /** PAY_EVT sequence of the payment's last message (0: none): the fence for the next append. */
  lastSeq: number;
  /** Number of events in the payment's history. */
  eventNo: number;
  /** Events replayed from JetStream on top of the snapshot (for metrics and tests). */
  replayed: number;
};

const WRONG_LAST_SEQUENCE = 10071;

export class EventStore {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly topo: Topology,
    private readonly snapshots: SnapshotStore,
    private readonly metrics: Metrics,
  ) {}

  /** Snapshot (if any) + the tail after it. A missing or stale snapshot only means a longer replay. */
  async load(paymentId: string): Promise<Loaded> {
    const subject = eventSubject(this.topo, paymentId);
    const last = await this.jsm.direct.getMessage(this.topo.eventStream, { last_by_subj: subject });
    if (!last) return { state: undefined, lastSeq: 0, eventNo: 0, replayed: 0 };
    const snap = await this.snapshots.get(paymentId);
    // A snapshot ahead of the stream (stream recreated, wrong deployment) cannot be trusted.
    const base = snap && snap.seq <= last.seq ? snap : undefined;
    let state: PaymentState = base?.state;
    let eventNo = base?.eventNo ?? 0;
    let seq = base?.seq ?? 0;
    let replayed = 0;
    for await (const env of this.envelopes(paymentId, seq, last)) {
      if (env.firstEventNo !== eventNo + 1)
        throw new CorruptEventError(
          `payment ${paymentId}: expected event ${eventNo + 1} at seq ${env.seq}, found ${env.firstEventNo}`,
        );
      state = evolveAll(state, env.events);
      eventNo += env.events.length;
      replayed += env.events.length;
      seq = env.seq;
    }
    return { state, lastSeq: seq, eventNo, replayed };
  }

  /**
   * The payment's whole history, oldest first, straight from JetStream (no snapshot). Used to answer
   * a repeated request with its first result; a payment has tens of events, not thousands.
   */
  async history(paymentId: string): Promise<PaymentEvent[]> {
    const subject = eventSubject(this.topo, paymentId);
    const last = await this.jsm.direct.getMessage(this.topo.eventStream, { last_by_subj: subject });
    if (!last) return [];
    const events: PaymentEvent[] = [];
    for await (const env of this.envelopes(paymentId, 0, last)) {
      if (env.firstEventNo !== events.length + 1)
        throw new CorruptEventError(
          `payment ${paymentId}: expected event ${events.length + 1} at seq ${env.seq}, found ${env.firstEventNo}`,
        );
      events.push(...env.events);
    }
    return events;
  }

  /** The payment's event envelopes after stream sequence `after`, up to and including `last`. */
  private async *envelopes(
    paymentId: string,
    after: number,
    last: StoredMsg,
  ): AsyncGenerator<EventEnvelope & { seq: number }> {
    const subject = eventSubject(this.topo, paymentId);
    let seq = after;
    while (seq < last.seq) {
      const msg: StoredMsg | null =
        seq + 1 === last.seq
          ? last
          : await this.jsm.direct.getMessage(this.topo.eventStream, { seq: seq + 1, next_by_subj: subject });
      if (!msg) return;
      yield { ...decodeEnvelope(msg), seq: msg.seq };
      seq = msg.seq;
    }
  }

  /**
   * Append the events decided for one command as one message. `Nats-Msg-Id = <paymentId>:<firstEventNo>`
   * makes a retried publish (ack lost) a no-op; the fence makes a concurrent writer fail.
   * Returns the new stream sequence.
   */
  async append(
    paymentId: string,
    at: { lastSeq: number; eventNo: number },
    events: PaymentEvent[],
    traceId?: string,
  ): Promise<number> {
    const envelope: EventEnvelope = {
      v: 1,
      paymentId,
      firstEventNo: at.eventNo + 1,
      events,
      ...(traceId !== undefined && { traceId }),
    };
    const h = headers();
    if (traceId) h.set(Header.traceparent, traceId);
    try {
      const ack = await this.js.publish(eventSubject(this.topo, paymentId), encode(envelope), {
        msgID: `${paymentId}:${at.eventNo + 1}`,
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
        throw new WrongLastSequenceError(`payment ${paymentId} already has event ${at.eventNo + 1}`);
      }
      return ack.seq;
    } catch (err) {
      if (err instanceof WrongLastSequenceError) throw err;
      if (err instanceof JetStreamApiError && err.code === WRONG_LAST_SEQUENCE) {
        this.metrics.fenceConflicts.inc();
        throw new WrongLastSequenceError(`payment ${paymentId} was written by someone else`, { cause: err });
      }
      throw err;
    }
  }
}

function decodeEnvelope(msg: StoredMsg): EventEnvelope {
  const parsed = EventEnvelope.safeParse(msg.json());
  if (!parsed.success)
    throw new CorruptEventError(`undecodable event envelope at seq ${msg.seq}: ${parsed.error.message}`);
  return parsed.data;
}
