// The webhook dispatcher: a durable pull consumer on PAY_EVT (streams/topology.ts
// ensureWebhookConsumer), read in batches. For each frame it needs the payment's state before the
// frame: an LRU keeps {state, next event number} per payment, and a miss or a gap (the frame does
// not start where the cached state ends: a restart, a frame taken by another dispatcher, a
// redelivery) rebuilds it from the event store. The batch's merchant events and deliveries go in
// one transaction, then the batch is acknowledged: a dispatcher killed before its ack loses nothing
// (JetStream redelivers) and stores nothing twice (inserts are idempotent). Several may run.
// A frame whose merchant events PostgreSQL refuses for their data (a NUL, a lone surrogate) is set
// aside (streams/db/set-aside.ts: recorded, then acknowledged) and the others are stored; a frame no
// version here can read is retried every 30 s and, after UNREADABLE_MAX_DELIVERIES, set aside too.
import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../../config/log.ts";
import type { Sql } from "../../streams/db/client.ts";
import { isPoison, poisonCode, recordSetAside } from "../../streams/db/set-aside.ts";
import { EventFrame, Header } from "../../streams/envelopes.ts";
import type { EventStore, StoredFrame } from "../../streams/event-store.ts";
import { ensureWebhookConsumer, type Topology } from "../../streams/topology.ts";
import type { PaymentEvent } from "../payment/events.ts";
import { evolveAll } from "../payment/evolve.ts";
import type { PaymentState } from "../payment/state.ts";
import { PaymentEvents } from "../payment/wire.ts";
import { catalog } from "./catalog.ts";
import { ingest, type StoredEntry } from "./store.ts";

export type DispatcherOptions = {
  js: JetStreamClient;
  jsm: JetStreamManager;
  topo: Topology;
  sql: Sql;
  events: Pick<EventStore, "frames">;
  log: Logger;
  /** Called after each stored and acknowledged batch (the sender looks at once). */
  onStored?: () => void;
  /** Called when a frame is set aside (recorded; the dispatcher went on past it). */
  onSetAside?: (seq: number, code: string) => void;
  batch?: number;
  cacheSize?: number;
  now?: () => Date;
};

type Cached = { state: PaymentState; nextEventNo: number };

/** The follower name of the dispatcher's frames set aside (GET /ops/read-models/set-aside). */
export const WEBHOOKS_FOLLOWER = "webhooks";

/**
 * Deliveries of a frame no version reads before it is set aside: 30 s apart, 20 minutes of them —
 * longer than a rolling deploy, during which a newer dispatcher beside this one takes its frames.
 */
export const UNREADABLE_MAX_DELIVERIES = 40;
/** How old a cached ack floor may get before it is read again though this process acknowledged nothing. */
const FLOOR_REFRESH_MS = 1_000;

/** A frame whose events this version cannot read (a newer writer): retried later, never skipped. */
class UnreadableFrame extends Error {
  override name = "UnreadableFrame";
}

export class WebhookDispatcher {
  readonly #cache = new Map<string, Cached>();
  #messages: ConsumerMessages | undefined;
  #loop: Promise<void> | undefined;
  #stopped = false;
  #queue: JsMsg[] = [];
  #flushing: Promise<void> | undefined;
  /** Batches acknowledged by this process, and the last ack floor read (with the count it saw). */
  #acks = 0;
  #floor: { value: number; acks: number; at: number } | undefined;

  constructor(private readonly o: DispatcherOptions) {}

  async start(): Promise<void> {
    await ensureWebhookConsumer(this.o.jsm, this.o.topo);
    await this.subscribe();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#messages?.close();
    await this.#loop;
    await this.#flushing;
  }

  /**
   * The stream sequence up to which every frame has been stored (all acknowledged). Read from the
   * server again only once this process has acknowledged more, or after FLOOR_REFRESH_MS (for what
   * other processes acknowledged): a sender woken because a send finished gets the floor it had,
   * not one more consumer info (that was ~8 per payment, 40 % of its JetStream requests). A stale
   * floor only holds deliveries back until the next read; it never lets one out early.
   */
  async ackFloor(): Promise<number> {
    const cached = this.#floor;
    if (cached && cached.acks === this.#acks && performance.now() - cached.at < FLOOR_REFRESH_MS)
      return cached.value;
    const acks = this.#acks;
    const at = performance.now();
    const info = await this.o.jsm.consumers.info(this.o.topo.eventStream, this.o.topo.webhookConsumer);
    const value = info.ack_floor.stream_seq;
    // The floor never goes back: an older read answered late keeps the newer one.
    if (!this.#floor || value >= this.#floor.value) this.#floor = { value, acks, at };
    return Math.max(value, this.#floor.value);
  }

  private async subscribe(): Promise<void> {
    const consumer = await this.o.js.consumers.get(this.o.topo.eventStream, this.o.topo.webhookConsumer);
    const max = this.o.batch ?? 256;
    const messages = await consumer.consume({ max_messages: max * 2 });
    this.#messages = messages;
    this.#loop = this.follow(messages, max).catch((err: unknown) => this.restart(err));
  }

  /**
   * Messages are queued as they arrive and stored by one flusher, up to `batch` at a time: while a
   * batch is being stored the next one builds up, so batches grow with the load and a lone message
   * is stored at once. (Waiting on `info.pending` to close a batch stalls when the pull runs dry.)
   */
  private async follow(messages: ConsumerMessages, max: number): Promise<void> {
    for await (const m of messages) {
      this.#queue.push(m);
      this.kick(max);
    }
    await this.#flushing;
  }

  private kick(max: number): void {
    if (this.#flushing) return;
    this.#flushing = (async () => {
      while (this.#queue.length > 0) await this.flush(this.#queue.splice(0, max));
    })()
      .catch((err: unknown) => this.o.log.warn({ err }, "webhooks: flush failed; redelivered later"))
      .finally(() => {
        this.#flushing = undefined;
        if (this.#queue.length > 0) this.kick(max);
      });
  }

  private async restart(err: unknown): Promise<void> {
    if (this.#stopped) return;
    this.o.log.warn({ err }, "webhook dispatcher stopped reading; resubscribing");
    await this.#messages?.close().catch(() => undefined);
    await new Promise<void>((r) => setTimeout(r, 1_000).unref());
    if (this.#stopped) return;
    try {
      await this.subscribe();
    } catch (again) {
      await this.restart(again);
    }
  }

  /** Store a batch's merchant events and deliveries in one transaction, then acknowledge it. */
  private async flush(batch: readonly JsMsg[]): Promise<void> {
    const frames: Array<{ m: JsMsg; entries: StoredEntry[] }> = [];
    const settled: JsMsg[] = [];
    const later: JsMsg[] = [];
    const touched = new Set<string>();
    const now = this.o.now?.() ?? new Date();
    try {
      for (const m of batch) {
        try {
          frames.push({ m, entries: await this.entriesOf(m, touched) });
          settled.push(m);
        } catch (err) {
          if (!(err instanceof UnreadableFrame)) throw err;
          if (m.info.deliveryCount >= UNREADABLE_MAX_DELIVERIES) {
            await this.setAside(m, "unreadable", err.message);
            settled.push(m);
            continue;
          }
          this.o.log.warn(
            { seq: m.seq, err: err.message },
            "webhooks: frame not readable by this version; later",
          );
          later.push(m);
        }
      }
      const entries = frames.flatMap((f) => f.entries);
      try {
        if (entries.length > 0) await this.o.sql.begin((tx) => ingest(tx, entries, now));
      } catch (err) {
        if (!isPoison(err)) throw err;
        // A frame's events the database refuses: one transaction per frame finds it; the others are stored.
        for (const f of frames) {
          try {
            if (f.entries.length > 0) await this.o.sql.begin((tx) => ingest(tx, f.entries, now));
          } catch (one) {
            if (!isPoison(one)) throw one;
            await this.setAside(f.m, poisonCode(one), one instanceof Error ? one.message : String(one));
          }
        }
      }
    } catch (err) {
      // Nothing stored (the database or the event store is away): the states cached past these
      // frames are not what the database holds; all of it again in a second.
      for (const id of touched) this.#cache.delete(id);
      for (const m of batch) m.nak(1_000);
      this.o.log.warn({ err, frames: batch.length }, "webhooks: batch not stored; redelivered in 1 s");
      return;
    }
    for (const m of later) m.nak(30_000);
    // The last ack waits for the server: the ack floor has moved when the sender is woken.
    const last = settled.at(-1);
    for (const m of settled) if (m !== last) m.ack();
    if (last) await last.ackAck().catch(() => false);
    if (settled.length > 0) this.#acks++;
    this.o.onStored?.();
  }

  /** Record a frame set aside (before it is acknowledged: a crash in between records it again). */
  private async setAside(m: JsMsg, code: string, reason: string): Promise<void> {
    await recordSetAside(this.o.sql, {
      follower: WEBHOOKS_FOLLOWER,
      stream: this.o.topo.eventStream,
      seq: m.seq,
      subject: m.subject,
      appendedAt: new Date(Math.floor(m.info.timestampNanos / 1e6)),
      code,
      reason,
    });
    this.o.log.error(
      { follower: WEBHOOKS_FOLLOWER, seq: m.seq, subject: m.subject, code, reason },
      "webhooks: frame set aside, its merchant events cannot be stored; going on (GET /ops/read-models/set-aside)",
    );
    this.o.onSetAside?.(m.seq, code);
  }

  private async entriesOf(m: JsMsg, touched: Set<string>): Promise<StoredEntry[]> {
    let frame: EventFrame;
    try {
      frame = EventFrame.parse(m.json());
    } catch {
      // Not a frame at all: the event store refuses to read it too (CorruptEventError). Nothing to
      // send; set aside so that operators see it.
      await this.setAside(m, "undecodable", `message ${m.seq} is not an event frame`);
      return [];
    }
    const events = PaymentEvents.safeParse(frame.events);
    if (!events.success) throw new UnreadableFrame(`frame ${m.seq} of ${frame.paymentId}`);
    touched.add(frame.paymentId);
    const before = await this.stateBefore(frame, m.seq);
    const { entries, after } = catalog(before, { firstEventNo: frame.firstEventNo, events: events.data });
    this.remember(frame.paymentId, { state: after, nextEventNo: frame.firstEventNo + events.data.length });
    const appendedAt = new Date(Math.floor(m.info.timestampNanos / 1e6));
    const traceparent = m.headers?.get(Header.traceparent) || null;
    return entries.map((e) => ({ ...e, seq: m.seq, appendedAt, traceparent }));
  }

  private async stateBefore(frame: EventFrame, seq: number): Promise<PaymentState> {
    if (frame.firstEventNo === 1) return undefined;
    const cached = this.#cache.get(frame.paymentId);
    if (cached?.nextEventNo === frame.firstEventNo) return cached.state;
    // Miss or gap: fold the payment's frames before this one from the record.
    const current: StoredFrame = { ...frame, seq, hash: "" };
    const events: PaymentEvent[] = [];
    for await (const f of this.o.events.frames(frame.paymentId, 0, current)) {
      if (f.seq >= seq) break;
      const parsed = PaymentEvents.safeParse(f.events);
      if (!parsed.success) throw new UnreadableFrame(`frame ${f.seq} of ${frame.paymentId}`);
      events.push(...parsed.data);
    }
    return evolveAll(undefined, events);
  }

  private remember(paymentId: string, entry: Cached): void {
    // A Map iterates in insertion order: deleting and re-adding makes it an LRU.
    this.#cache.delete(paymentId);
    this.#cache.set(paymentId, entry);
    const max = this.o.cacheSize ?? 10_000;
    if (this.#cache.size > max) {
      const oldest = this.#cache.keys().next();
      if (!oldest.done) this.#cache.delete(oldest.value);
    }
  }
}
