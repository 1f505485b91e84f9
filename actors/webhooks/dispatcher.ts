// The webhook dispatcher: a follower of PAY_EVT (streams/db/follower.ts) — the same batches, the
// same position in projection_offsets moved in the same transaction as what the batch stored, as the
// read models — fed by the process's event tap (streams/event-tap.ts), so a frame is read once per
// process, not once more for webhooks. For each frame it needs the payment's state before the frame:
// an LRU keeps {state, next event number} per payment, and a miss or a gap (the frame does not start
// where the cached state ends: a restart, a batch applied by another process) rebuilds it from the
// event store. A dispatcher killed mid-batch stores nothing of it (the transaction rolls back) and the
// next one applies it once; several may run (they serialize on the position's row).
//
// Deliveries exist only for frames at or below the committed position, and in stream order: the
// sender may send whatever it finds (there is no ack floor to wait for, and nothing waits for a
// consumer's ack_wait after a crash).
//
// A frame whose merchant events PostgreSQL refuses for their data (a NUL, a lone surrogate), and one
// that is not an event frame, are set aside (streams/db/set-aside.ts) and the follower goes on; a
// frame whose events this version cannot read (a newer writer's, during a rolling deploy) is tried
// again every UNREADABLE_RETRY_MS — a newer dispatcher beside this one applies it meanwhile — and set
// aside only after UNREADABLE_SET_ASIDE_AFTER_MS.
import type { Logger } from "../../config/log.ts";
import type { Sql, Tx } from "../../streams/db/client.ts";
import { Follower, type RetryLater } from "../../streams/db/follower.ts";
import { PoisonFrameError } from "../../streams/db/set-aside.ts";
import type { FrameSource, StreamMsg } from "../../streams/event-tap.ts";
import type { EventStore, StoredFrame } from "../../streams/event-store.ts";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { Topology } from "../../streams/topology.ts";
import type { PaymentEvent } from "../payment/core/events.ts";
import { evolveAll } from "../payment/core/evolve.ts";
import type { PaymentState } from "../payment/core/state.ts";
import { PaymentEvents } from "../payment/core/wire.ts";
import { readPaymentFrame, type PaymentFrame } from "../projections/frames.ts";
import { catalog } from "./core/catalog.ts";
import { ingest, type Claimed, type StoredEntry } from "./store.ts";

/**
 * The process's sender, to which the dispatcher hands the deliveries it leases at insert
 * (actors/webhooks/sender.ts): room reserved before the insert, the leased runs once committed.
 */
export type HandOffTarget = {
  reserve(max: number): number;
  release(n: number): void;
  /** Committed deliveries leased to this process, in runs to send in order; `reserved` is returned. */
  take(runs: Claimed[][], reserved: number): void;
  /** How long a handed delivery is leased for (the n-th of a run: n times this). */
  leaseMs: number;
};

export type DispatcherOptions = {
  js: JetStreamClient;
  jsm: JetStreamManager;
  topo: Topology;
  sql: Sql;
  events: Pick<EventStore, "frames">;
  log: Logger;
  /** The process's tap of PAY_EVT; by default an ordered consumer of the dispatcher's own. */
  source?: FrameSource;
  /**
   * Called after each committed batch that stored deliveries no one was handed (the sender looks at
   * once for them).
   */
  onStored?: () => void;
  /** This process's sender: deliveries leased to it at insert are handed to it, not claimed. */
  handOff?: HandOffTarget;
  /** Called after each committed batch that stored merchant events (the PAY_OUT feed looks at once). */
  onEvents?: () => void;
  /** Called when a frame is set aside (recorded; the dispatcher went on past it). */
  onSetAside?: (seq: number, code: string) => void;
  batch?: number;
  cacheSize?: number;
  now?: () => Date;
  /** A frame this version cannot read: tried again this often (UNREADABLE_RETRY_MS)… */
  unreadableRetryMs?: number;
  /** …and set aside once it has held the others back this long (UNREADABLE_SET_ASIDE_AFTER_MS). */
  unreadableSetAsideAfterMs?: number;
};

type Cached = { state: PaymentState; nextEventNo: number };

/** The follower name of the dispatcher: its position and its frames set aside (GET /ops/read-models/set-aside). */
export const WEBHOOKS_FOLLOWER = "webhooks";

/**
 * Payment states kept for their next frame. What it saves is the replay of a payment's earlier
 * frames (a direct get each) when its next frame comes: an outcome a few ms after its intent always
 * hits; a capture or refund minutes later hits only at low volume whatever the size. ~6 KB a state
 * (measured: the heap after a full GC grew 36 MB while 5,639 more were cached): 2,000 is ~13 MB,
 * 3 s of frames at 600 payments/s; 10,000 was ~65 MB.
 */
export const DISPATCHER_CACHE = 2_000;

/** How often a frame this version cannot read is tried again. */
export const UNREADABLE_RETRY_MS = 15_000;
/**
 * How long a frame this version cannot read holds the merchants' events back before it is set aside:
 * longer than a rolling deploy takes to start a newer dispatcher beside this one (which applies it).
 */
export const UNREADABLE_SET_ASIDE_AFTER_MS = 5 * 60_000;

/** A frame whose events this version cannot read (a newer writer): tried again later. */
class UnreadableFrame extends Error implements RetryLater {
  override name = "UnreadableFrame";
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

export class WebhookDispatcher {
  readonly #cache = new Map<string, Cached>();
  readonly #follower: Follower;
  /** Deliveries stored unleased by the batch being committed (a failed one counts again from 0). */
  #stored = 0;
  /** The batch's deliveries leased to this process's sender, handed once it is committed. */
  #handed: Claimed[][] = [];
  /** Room reserved in the sender for the batch being committed. */
  #reserved = 0;
  /** Merchant events in the batch being committed. */
  #events = 0;
  /** Frames this version could not read: when each was first tried. */
  readonly #unreadable = new Map<number, number>();

  constructor(private readonly o: DispatcherOptions) {
    this.#follower = new Follower(
      {
        name: WEBHOOKS_FOLLOWER,
        stream: o.topo.eventStream,
        batch: o.batch ?? 256,
        ...(o.source && { source: o.source }),
        apply: (tx, msgs) => this.apply(tx, msgs),
      },
      {
        js: o.js,
        sql: o.sql,
        log: o.log,
        onApplied: (_name, seq) => {
          for (const s of this.#unreadable.keys()) if (s <= seq) this.#unreadable.delete(s);
          // Committed: what was leased to this process goes to its sender (and the room not used
          // back); only deliveries stored unleased give it something to claim.
          if (this.#reserved > 0) o.handOff?.take(this.#handed, this.#reserved);
          this.#handed = [];
          this.#reserved = 0;
          if (this.#stored > 0) o.onStored?.();
          if (this.#events > 0) o.onEvents?.();
          this.#stored = 0;
          this.#events = 0;
        },
        onSetAside: (_name, seq, code) => o.onSetAside?.(seq, code),
      },
    );
  }

  /** Payments whose state the dispatcher keeps for their next frame (at most `cacheSize`). */
  get cached(): number {
    return this.#cache.size;
  }

  /** The stream sequence this process has seen stored (another process may be further). */
  get position(): number {
    return this.#follower.position;
  }

  async start(): Promise<void> {
    await this.adoptDurablePosition();
    await this.#follower.start();
  }

  async stop(): Promise<void> {
    await this.#follower.stop();
    this.dropHanded();
  }

  /** Resolves when this dispatcher has stored (or seen stored) the stream up to `seq`. */
  caughtUp(seq: number): Promise<void> {
    return this.#follower.caughtUp(seq);
  }

  /**
   * Until this version the dispatcher was a durable JetStream consumer: on the first start after the
   * upgrade, its position is where that consumer's acknowledgements reached (everything below is
   * stored), not the stream's start (stored again: nothing sent twice, but a long replay). The old
   * consumer is left for processes of the older version still running; remove it once none is.
   */
  private async adoptDurablePosition(): Promise<void> {
    const [row] = await this.o.sql<{ n: number }[]>`
      select count(*)::int as n from projection_offsets where name = ${WEBHOOKS_FOLLOWER}`;
    if ((row?.n ?? 0) > 0) return;
    const info = await this.o.jsm.consumers
      .info(this.o.topo.eventStream, this.o.topo.webhookConsumer)
      .catch(() => undefined);
    const floor = info?.ack_floor.stream_seq ?? 0;
    if (floor <= 0) return;
    await this.o.sql`insert into projection_offsets (name, last_seq) values (${WEBHOOKS_FOLLOWER}, ${floor})
      on conflict do nothing`;
    this.o.log.info({ position: floor }, "webhooks: position taken from the former durable consumer");
  }

  /** A batch's merchant events and deliveries, in the follower's transaction. */
  private async apply(tx: Tx, msgs: readonly StreamMsg[]): Promise<void> {
    // An earlier attempt's transaction that did not commit (a failed commit, or a frame set aside
    // after the batch failed): nothing of it is stored, its room goes back.
    this.dropHanded();
    const touched = new Set<string>();
    const now = this.o.now?.() ?? new Date();
    try {
      const entries: StoredEntry[] = [];
      for (const m of msgs) entries.push(...(await this.entriesOf(m, touched, now)));
      if (entries.length > 0) {
        const handOff = this.o.handOff;
        const r = await ingest(
          tx,
          entries,
          now,
          handOff && {
            reserve: (max) => {
              const n = handOff.reserve(max);
              this.#reserved += n;
              return n;
            },
            leaseMs: handOff.leaseMs,
          },
        );
        this.#handed.push(...r.handed);
        this.#stored += r.stored - r.handed.reduce((n, run) => n + run.length, 0);
      }
      this.#events += entries.length;
    } catch (err) {
      // Nothing stored: the states cached past these frames are not what the database holds.
      for (const id of touched) this.#cache.delete(id);
      this.#stored = 0;
      this.#events = 0;
      this.dropHanded();
      throw err;
    }
  }

  /** The room reserved for an uncommitted batch, back to the sender. */
  private dropHanded(): void {
    if (this.#reserved > 0) this.o.handOff?.release(this.#reserved);
    this.#reserved = 0;
    this.#handed = [];
  }

  private async entriesOf(m: StreamMsg, touched: Set<string>, now: Date): Promise<StoredEntry[]> {
    const r = readPaymentFrame(m);
    if (!r.ok && r.problem === "undecodable")
      // Not a frame at all: the event store refuses to read it too. Nothing to send; set aside.
      throw new PoisonFrameError("undecodable", r.message);
    if (!r.ok) throw this.unreadable(m, r.message, now);
    const frame = r.frame;
    touched.add(frame.paymentId);
    let before: PaymentState;
    try {
      before = await this.stateBefore(frame);
    } catch (err) {
      // An earlier frame of the payment this version cannot read: this one waits with it.
      if (err instanceof UnreadableFrame) throw this.unreadable(m, err.message, now);
      throw err;
    }
    const { entries, after } = catalog(before, { firstEventNo: frame.firstEventNo, events: frame.events });
    this.remember(frame.paymentId, { state: after, nextEventNo: frame.firstEventNo + frame.events.length });
    return entries.map((e) => ({ ...e, seq: m.seq, appendedAt: m.time, traceparent: m.traceparent ?? null }));
  }

  /** Tried again later; set aside once it has held the others back long enough. */
  private unreadable(m: StreamMsg, message: string, now: Date): Error {
    const first = this.#unreadable.get(m.seq) ?? now.getTime();
    this.#unreadable.set(m.seq, first);
    // Kept until the position is past it: the follower tries the batch, then the frame alone.
    if (now.getTime() - first >= (this.o.unreadableSetAsideAfterMs ?? UNREADABLE_SET_ASIDE_AFTER_MS))
      return new PoisonFrameError("unreadable", message);
    this.o.log.warn({ seq: m.seq, err: message }, "webhooks: frame not readable by this version; later");
    return new UnreadableFrame(message, this.o.unreadableRetryMs ?? UNREADABLE_RETRY_MS);
  }

  private async stateBefore(frame: PaymentFrame): Promise<PaymentState> {
    if (frame.firstEventNo === 1) return undefined;
    const cached = this.#cache.get(frame.paymentId);
    if (cached?.nextEventNo === frame.firstEventNo) return cached.state;
    // Miss or gap: fold the payment's frames before this one from the record.
    const seq = frame.seq;
    const current: StoredFrame = { v: 1, ...frame, events: [...frame.events], hash: "" };
    const events: PaymentEvent[] = [];
    for await (const f of this.o.events.frames(frame.paymentId, 0, current)) {
      if (f.seq >= seq) break;
      const parsed = PaymentEvents.safeParse(f.events);
      if (!parsed.success) throw new UnreadableFrame(`frame ${f.seq} of ${frame.paymentId}`, 0);
      events.push(...parsed.data);
    }
    return evolveAll(undefined, events);
  }

  private remember(paymentId: string, entry: Cached): void {
    // A Map iterates in insertion order: deleting and re-adding makes it an LRU.
    this.#cache.delete(paymentId);
    this.#cache.set(paymentId, entry);
    const max = this.o.cacheSize ?? DISPATCHER_CACHE;
    if (this.#cache.size > max) {
      const oldest = this.#cache.keys().next();
      if (!oldest.done) this.#cache.delete(oldest.value);
    }
  }
}
