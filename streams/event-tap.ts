// One read of a stream per process, shared by everything in the process that follows it. The payment
// events (PAY_EVT) are followed by the janitor, the payments read model and the webhook dispatcher;
// each with its own consumer, every frame crossed the socket and was parsed three times per process.
// The tap is one ordered consumer (no acks, the cheapest read JetStream has) whose messages are handed
// to each reader, as the same object (so what one reader decodes of it the others reuse: see
// actors/projections/frames.ts), from the position each reader asked for.
//
// Each reader keeps its own position and its own bounded queue: a reader that is slow (PostgreSQL
// away) holds the tap back, and so the others, but never makes it buffer without end; a reader that
// must go back (a rebuild reset its position) reopens from there and the tap reads again from the
// earliest position any reader wants, each of the others skipping what it has already had.
//
// The tap watches its own progress: a consumer that hands out nothing while the stream holds more
// (the client's heartbeat recovery missed a case — CI saw the read model stop for over 30 s after
// the node leading PAY_EVT was killed) is replaced by a new one from where the readers are.
import {
  DeliverPolicy,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type MsgRequest,
} from "@nats-io/jetstream";
import type { Logger } from "../config/log.ts";
import type { Metrics } from "../config/metrics.ts";
import { decodeJson } from "./envelopes.ts";

/** A stream message as the followers see it: read once, shared by every reader of the process. */
export type StreamMsg = {
  seq: number;
  subject: string;
  data: Uint8Array;
  time: Date;
  /** The W3C trace context the writer stamped on it, if any. */
  traceparent?: string;
};

const decoded = new WeakMap<StreamMsg, { value: unknown } | { error: unknown }>();

/**
 * The message's JSON, parsed once however many readers of the process ask (the tap hands them all
 * the same object). Throws what JSON.parse threw, every time it is asked. Readers must not change it.
 */
export function jsonOf(msg: StreamMsg): unknown {
  let d = decoded.get(msg);
  if (!d) {
    try {
      d = { value: decodeJson(msg.data) };
    } catch (error) {
      d = { error };
    }
    decoded.set(msg, d);
  }
  if ("error" in d) throw d.error;
  return d.value;
}

/** A message and how many more the reader could have at once (0: it is at the head for now). */
export type FedMsg = { msg: StreamMsg; pending: number };

/** Messages from a position on, in stream order, until closed. */
export type FrameFeed = AsyncIterable<FedMsg> & { close(): Promise<void> };

/** Where a follower's messages come from: its own ordered consumer, or the process's tap. */
export type FrameSource = { open(from: number): Promise<FrameFeed> };

export function toStreamMsg(m: JsMsg): StreamMsg {
  const msg: StreamMsg = {
    seq: m.seq,
    subject: m.subject,
    data: m.data,
    time: new Date(Math.floor(m.info.timestampNanos / 1e6)),
  };
  const traceparent = m.headers?.get("traceparent");
  if (traceparent) msg.traceparent = traceparent;
  return msg;
}

/**
 * The pulls of an ordered consumer: the server ends each after `expires` and sends a heartbeat every
 * `idle_heartbeat` while it has nothing; two missed heartbeats make the client recreate the consumer.
 * An ordered consumer lives on the stream's leader only: when that node dies (a cluster losing a
 * node) nothing else tells the client, so the heartbeat is the time to notice. The client's default
 * (15 s, 30 s pulls) left the read models and the janitor 30 s behind after the PAY_EVT leader was
 * killed (test/e2e/cluster-faults.e2e.spec.ts); 2.5 s costs one small message per reader every 2.5 s
 * when idle.
 */
const ORDERED_PULLS = { expires: 10_000, idle_heartbeat: 2_500 } as const;

/** Where a tap counts its stalls (switchyard_stream_reader_stalls_total). */
export type StallMetrics = Pick<Metrics, "streamReaderStalls">;

/** How many messages one reader may have waiting before the tap waits for it. */
const READER_QUEUE = 1_024;
/** After the consumer failed (the server away): this long before reading again. */
const RETRY_MS = 1_000;
/** How often the tap looks at its progress (TapOptions.watchMs). */
const WATCH_MS = 5_000;
/**
 * Looks in a row that found nothing handed out while the stream held more, before the consumer is
 * replaced: a stall is acted on 10 to 15 s after it began, past the client's own recovery (two
 * missed heartbeats: 5 s), which it does not race.
 */
const STALLED_LOOKS = 2;

export type TapOptions = {
  /** Messages asked of the server at once (default 512). */
  maxMessages?: number;
  /** How often the progress is looked at (default 5 s). */
  watchMs?: number;
};

/** One reader's queue: the tap pushes, the reader pulls, each waiting for the other at the bounds. */
class Reader {
  /** The next sequence this reader wants: what is below it, it has had. */
  next: number;
  closed = false;
  readonly #queue: FedMsg[] = [];
  #wake: (() => void) | undefined;
  #room: (() => void) | undefined;

  constructor(
    from: number,
    private readonly onClose: (r: Reader) => void,
  ) {
    this.next = from;
  }

  /** Undefined when queued at once; a promise when the reader's queue is full (wait for room). */
  push(msg: StreamMsg, pending: number): Promise<void> | undefined {
    if (this.closed || msg.seq < this.next) return undefined;
    this.next = msg.seq + 1;
    this.#queue.push({ msg, pending });
    this.#wake?.();
    this.#wake = undefined;
    if (this.#queue.length < READER_QUEUE) return undefined;
    return new Promise<void>((resolve) => (this.#room = resolve));
  }

  async *feed(): AsyncGenerator<FedMsg> {
    try {
      for (;;) {
        const item = this.#queue.shift();
        if (item) {
          if (this.#queue.length < READER_QUEUE / 2) this.release();
          // What the server still holds, plus what waits here for this reader.
          yield { msg: item.msg, pending: item.pending + this.#queue.length };
          continue;
        }
        if (this.closed) return;
        await new Promise<void>((resolve) => (this.#wake = resolve));
      }
    } finally {
      this.close();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#queue.length = 0;
    this.#wake?.();
    this.release();
    this.onClose(this);
  }

  private release(): void {
    this.#room?.();
    this.#room = undefined;
  }
}

export class EventTap implements FrameSource {
  readonly #readers = new Set<Reader>();
  #messages: ConsumerMessages | undefined;
  #loop: Promise<void> | undefined;
  /** The last sequence the current consumer handed out (its next is this + 1). */
  #read = 0;
  /** Where the current consumer started. */
  #startedAt = 0;
  #restarting: Promise<void> = Promise.resolve();
  #stopped = false;
  /** The follow loop waits for room in a reader's queue: nothing is expected from the server. */
  #held = false;
  /** #read at the last look, and how many looks in a row found it unchanged with the stream ahead. */
  #readAtLook = 0;
  #stalledLooks = 0;
  #looking = false;
  #watch: NodeJS.Timeout | undefined;
  #jsm: Promise<JetStreamManager> | undefined;
  #stalls: StallMetrics | undefined;
  readonly #maxMessages: number;
  readonly #watchMs: number;

  constructor(
    private readonly js: JetStreamClient,
    private readonly stream: string,
    private readonly log: Logger,
    o: TapOptions = {},
  ) {
    this.#maxMessages = o.maxMessages ?? 512;
    this.#watchMs = o.watchMs ?? WATCH_MS;
  }

  /**
   * Where the stalls are counted: the first to ask, once per tap (one per process's metrics). The
   * stream's count is exported from 0 at once, so that Prometheus sees the first stall as an increase.
   */
  countStallsIn(metrics: StallMetrics): void {
    if (this.#stalls) return;
    this.#stalls = metrics;
    metrics.streamReaderStalls.inc({ stream: this.stream }, 0);
  }

  /** A reader from `from` on. The tap goes back for it if it has read past `from` already. */
  async open(from: number): Promise<FrameFeed> {
    const reader = new Reader(Math.max(1, from), (r) => this.#readers.delete(r));
    this.#readers.add(reader);
    // Behind what the current consumer has handed out (or before where it started): read again.
    if (!this.#messages || reader.next <= this.#read || reader.next < this.#startedAt)
      await this.restart().catch((err: unknown) => {
        reader.close();
        throw err;
      });
    const iterator = reader.feed();
    return {
      [Symbol.asyncIterator]: () => iterator,
      close: async () => {
        reader.close();
        await iterator.return(undefined);
      },
    };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#watch);
    for (const r of [...this.#readers]) r.close();
    await this.#restarting.catch(() => undefined);
    await this.#messages?.close().catch(() => undefined);
    await this.#loop;
  }

  /** (Re)start the one consumer at the earliest position any reader wants; one restart at a time. */
  private restart(): Promise<void> {
    this.#restarting = this.#restarting
      .catch(() => undefined)
      .then(async () => {
        if (this.#stopped) return;
        const old = this.#messages;
        this.#messages = undefined;
        await old?.close().catch(() => undefined);
        await this.#loop;
        let from = Number.POSITIVE_INFINITY;
        for (const r of this.#readers) from = Math.min(from, r.next);
        if (!Number.isFinite(from)) return;
        const messages = await this.consume(from);
        this.#messages = messages;
        this.#startedAt = from;
        this.#read = from - 1;
        this.#readAtLook = this.#read;
        this.#stalledLooks = 0;
        this.#watch ??= setInterval(() => void this.look(), this.#watchMs).unref();
        // Closed by a restart or stop(): follow() just ends. Failed, or ended by the client on its
        // own: read again, not awaited here (a restart awaits the loop, and the recovery is a restart).
        this.#loop = this.follow(messages).then(
          () => {
            if (this.#messages === messages) void this.recover(new Error("the consumer ended"));
          },
          (err: unknown) => {
            if (this.#messages === messages) void this.recover(err);
          },
        );
      });
    return this.#restarting;
  }

  /** The ordered consumer's messages from `from` on (a spec breaks their delivery through this). */
  protected async consume(from: number): Promise<ConsumerMessages> {
    const consumer = await this.js.consumers.get(this.stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: from,
    });
    return consumer.consume({ max_messages: Math.max(64, this.#maxMessages), ...ORDERED_PULLS });
  }

  private async follow(messages: ConsumerMessages): Promise<void> {
    for await (const m of messages) {
      this.#read = m.seq;
      const msg = toStreamMsg(m);
      const pending = m.info.pending;
      for (const r of this.#readers) {
        const full = r.push(msg, pending);
        if (full) {
          this.#held = true;
          await full;
          this.#held = false;
        }
      }
    }
  }

  /**
   * Every `watchMs`: has the consumer handed anything out since the last look? When not, and the
   * stream holds a message past what it handed out, that is a stall; two looks in a row and the
   * consumer is replaced (logged, counted). Nothing per message: one message get per look, only
   * when nothing came since the last.
   */
  protected async look(): Promise<void> {
    if (this.#looking) return;
    this.#looking = true;
    try {
      const read = this.#read;
      if (read !== this.#readAtLook || this.#held || !this.#messages || this.#readers.size === 0) {
        this.#readAtLook = read;
        this.#stalledLooks = 0;
        return;
      }
      const next = await this.nextAfter(read).catch(() => undefined);
      // Unknown (the server away: the client's reconnect is the recovery), or nothing more to read.
      if (next === undefined || next === 0 || this.#read !== read) {
        this.#stalledLooks = 0;
        return;
      }
      if (++this.#stalledLooks < STALLED_LOOKS) return;
      this.#stalledLooks = 0;
      this.log.warn(
        { stream: this.stream, read, next, stalledMs: STALLED_LOOKS * this.#watchMs },
        "event tap: nothing handed out while the stream holds more; reading again with a new consumer",
      );
      this.#stalls?.streamReaderStalls.inc({ stream: this.stream });
      await this.restart().catch((err: unknown) => this.recover(err));
    } finally {
      this.#looking = false;
    }
  }

  private connectionClosed(): boolean {
    // The client's JetStreamClient holds its connection (JetStreamClientImpl.nc).
    return (this.js as { nc?: { isClosed(): boolean } }).nc?.isClosed() === true;
  }

  /**
   * The sequence of the stream's first message after `read`, or 0 when it holds none (purged,
   * expired, the last ones deleted: nothing to hand out). Not the stream's last sequence: a deleted
   * last message leaves it past everything the stream holds, and the tap would be replaced every
   * STALLED_LOOKS looks for ever. One message get (next by subject, from read + 1), as a stream info was.
   */
  private async nextAfter(read: number): Promise<number> {
    this.#jsm ??= this.js.jetstreamManager(false);
    // The stream message API takes next_by_subj (nats-server 2.9 and later); the client types it only
    // for direct gets, which not every stream a tap reads allows.
    const next: MsgRequest & { next_by_subj: string } = { seq: read + 1, next_by_subj: ">" };
    const m = await (await this.#jsm).streams.getMessage(this.stream, next);
    return m?.seq ?? 0;
  }

  /**
   * The consumer failed (the server away): from where the readers are, again, until it works. Not
   * on a connection closed for good (a consumer ends with it): nothing could read again.
   */
  private async recover(err: unknown): Promise<void> {
    for (;;) {
      if (this.#stopped || this.connectionClosed()) return;
      this.log.warn({ err, stream: this.stream }, "event tap stopped reading; reading again in 1 s");
      await new Promise<void>((r) => setTimeout(r, RETRY_MS).unref());
      try {
        await this.restart();
        return;
      } catch (again) {
        err = again;
      }
    }
  }
}
