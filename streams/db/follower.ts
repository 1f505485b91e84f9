// A read model follows a stream: an ordered consumer (no acks, the cheapest read) from the position
// the database says it has reached, batches of messages applied in one transaction together with
// the new position, so a row is never applied twice nor skipped, whatever crashes. Several
// processes may follow the same stream for the same read model: the position's row, locked for
// each batch's transaction, serializes their batches, and one that finds the position ahead of its batch skips what is done.
// A position behind what the follower has read (a rebuild reset it) restarts it from there.
// A frame the database refuses for its data (a NUL, a lone surrogate: streams/db/set-aside.ts) is
// set aside — recorded in the transaction that moves the position past it — and the follower goes
// on; a batch that fails for any other reason (the database away) is retried, nothing set aside.
import type { JetStreamClient } from "@nats-io/jetstream";
import type { Logger } from "../../config/log.ts";
import { type FrameFeed, type FrameSource, type StallMetrics, type StreamMsg } from "../event-tap.ts";
import { orderedSource } from "../ordered-source.ts";
import type { Sql, Tx } from "./client.ts";
import { arrivesWithin, BatchDeadline, EXPIRED } from "./batch-timing.ts";
import { isPoison, poisonCode, recordSetAside } from "./set-aside.ts";

export type { StreamMsg } from "../event-tap.ts";

export type FollowerSpec = {
  /** The read model's name: its row in projection_offsets and its lock. */
  name: string;
  stream: string;
  /** Applies messages in stream order; every write goes through `tx`. Must be idempotent per message. */
  apply(tx: Tx, msgs: readonly StreamMsg[]): Promise<void>;
  /** Messages per transaction at most (a batch is also closed when the stream has no more pending). */
  batch?: number;
  /**
   * How long a batch with nothing more pending waits for one more message before it is applied
   * (DEFAULT_LINGER_MS); 0 applies it at once. Bounds what batching adds to the read model's lag.
   */
  lingerMs?: number;
  /**
   * How long a batch may stay open at most, from its first message (DEFAULT_MAX_BATCH_MS): past it,
   * the batch is applied however much more is pending or arriving. Without it, messages arriving
   * less than `lingerMs` apart kept one batch open until it was full (500 frames: 1.7 s of one
   * client's payments, behind in the read model for all that time).
   */
  maxBatchMs?: number;
  /**
   * Where the messages come from: the process's tap of the stream (streams/event-tap.ts), shared
   * with its other readers; by default an ordered consumer of the follower's own.
   */
  source?: FrameSource;
  /** How long after a failed batch it is tried again (default 1 s); an error may ask for longer. */
  retryMs?: number;
};

/** An error that says when the batch it failed is worth trying again (a frame not readable yet). */
export type RetryLater = Error & { retryAfterMs: number };

/**
 * At one client a payment's frames come a few milliseconds apart (an intent, then its outcome):
 * waiting this long for the next one applies both in one transaction instead of two.
 */
export const DEFAULT_LINGER_MS = 10;

/** A batch is applied at most this long after its first message arrived (maxBatchMs). */
export const DEFAULT_MAX_BATCH_MS = 100;

export type FollowerDeps = {
  js: JetStreamClient;
  sql: Sql;
  log: Logger;
  onApplied?: (name: string, seq: number, time: Date) => void;
  /** A frame was set aside (recorded; the follower went on past it). */
  onSetAside?: (name: string, seq: number, code: string) => void;
  /** Where its own reader of the stream counts its stalls (streams/event-tap.ts). */
  stalls?: StallMetrics;
};

/**
 * How often an idle follower looks whether its position was reset (a rebuild by another process).
 * A rebuild in this process tells its followers at once (announceReset); a busy follower sees it in
 * its next batch's transaction.
 */
const OFFSET_WATCH_MS = 5_000;

/** The followers running in this process. */
const running = new Set<Follower>();

/** A rebuild was committed in this process: every follower looks at its position now. */
export function announceReset(): void {
  for (const f of running) f.lookAtOffset();
}

export class Follower {
  #position = 0;
  #messages: FrameFeed | undefined;
  #loop: Promise<void> | undefined;
  #stopped = false;
  #watch: NodeJS.Timeout | undefined;
  readonly #closing = new WeakMap<FrameFeed, Promise<void>>();
  readonly #source: FrameSource;
  readonly #waiters = new Set<{ seq: number; resolve: () => void }>();

  constructor(
    private readonly spec: FollowerSpec,
    private readonly d: FollowerDeps,
  ) {
    this.#source =
      spec.source ??
      orderedSource(d.js, spec.stream, d.log, {
        maxMessages: spec.batch ?? 500,
        ...(d.stalls && { stalls: d.stalls }),
      });
  }

  get position(): number {
    return this.#position;
  }

  async start(): Promise<void> {
    this.#position = await readOffset(this.d.sql, this.spec.name);
    await this.subscribe();
    // A rebuild resets the position while no new message arrives to notice it by: look now and then.
    this.#watch = setInterval(() => this.lookAtOffset(), OFFSET_WATCH_MS);
    this.#watch.unref();
    running.add(this);
  }

  /** Read the recorded position; behind ours (a rebuild reset it): start over from there. */
  lookAtOffset(): void {
    readOffset(this.d.sql, this.spec.name)
      .then(async (offset) => {
        if (offset >= this.#position || this.#stopped) return;
        this.#position = offset;
        await this.closeMessages();
      })
      .catch(() => undefined);
  }

  async stop(): Promise<void> {
    running.delete(this);
    clearInterval(this.#watch);
    this.#stopped = true;
    await this.closeMessages();
    await this.#loop;
  }

  /** Resolves when this follower has applied (or seen applied) the stream up to `seq`. */
  caughtUp(seq: number): Promise<void> {
    if (this.#position >= seq) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.add({ seq, resolve }));
  }

  /** Close the current subscription once, however many ask (a second close() of one never settles). */
  private closeMessages(): Promise<void> {
    const m = this.#messages;
    if (!m) return Promise.resolve();
    let closing = this.#closing.get(m);
    if (!closing) {
      closing = m.close();
      this.#closing.set(m, closing);
    }
    return closing;
  }

  private async subscribe(): Promise<void> {
    const messages = await this.#source.open(this.#position + 1);
    this.#messages = messages;
    this.#loop = this.follow(messages).catch((err: unknown) => this.restart(err));
  }

  private async follow(messages: FrameFeed): Promise<void> {
    const max = this.spec.batch ?? 500;
    const linger = this.spec.lingerMs ?? DEFAULT_LINGER_MS;
    const maxAge = this.spec.maxBatchMs ?? DEFAULT_MAX_BATCH_MS;
    const it = messages[Symbol.asyncIterator]();
    let batch: StreamMsg[] = [];
    let openedAt = 0;
    let next = it.next();
    // An open batch's deadline (maxAge after its first message): one timer per batch, not per message.
    const deadline = new BatchDeadline();
    try {
      for (;;) {
        // More was pending when the last message came: wait for it, but a batch is applied by its
        // deadline even when the source stalls with messages pending (the server said more were
        // coming, the next never arrived: the batch held its payments out of the read model).
        const r = batch.length > 0 ? await Promise.race([next, deadline.reached]) : await next;
        if (r !== EXPIRED) {
          if (r.done) break;
          const { msg, pending } = r.value;
          if (batch.length === 0) {
            openedAt = performance.now();
            deadline.set(maxAge);
          }
          batch.push(msg);
          next = it.next();
          // Awaited at the top of the loop; until then a rejection must not count as unhandled.
          next.catch(() => undefined);
          const left = maxAge - (performance.now() - openedAt);
          if (batch.length < max && left > 0 && pending > 0) continue;
          // Nothing more pending: a payment's next frame is usually a few milliseconds away (the
          // outcome after its intent). Waiting that long for it makes one transaction of the two.
          if (
            batch.length < max &&
            linger > 0 &&
            left > 0 &&
            (await arrivesWithin(next, Math.min(linger, left)))
          )
            continue;
        }
        const restart = await this.flush(batch);
        batch = [];
        deadline.clear();
        if (restart) {
          await this.closeMessages();
          break;
        }
      }
    } finally {
      deadline.clear();
    }
    // Closed by a rebuild (or a restart above): go on from the recorded position. Closed by stop(): done.
    await this.resubscribe();
  }

  /** Apply a batch; true when the recorded position moved behind us (a rebuild): start over from it. */
  private async flush(batch: readonly StreamMsg[]): Promise<boolean> {
    try {
      return await this.commit(batch, (tx, todo) => this.spec.apply(tx, todo));
    } catch (err) {
      if (!isPoison(err)) throw err;
      // One frame (or more) of the batch cannot be applied: one transaction per frame finds which,
      // sets it aside and applies the others. A failure that is not the frame's is thrown (retried).
      for (const m of batch) {
        let behind: boolean;
        try {
          behind = await this.commit([m], (tx, todo) => this.spec.apply(tx, todo));
        } catch (one) {
          if (!isPoison(one)) throw one;
          behind = await this.setAside(m, one);
        }
        if (behind) return true;
      }
      return false;
    }
  }

  /** Record `m` as set aside and move the position past it, in one transaction. */
  private async setAside(m: StreamMsg, err: unknown): Promise<boolean> {
    const code = poisonCode(err);
    const reason = err instanceof Error ? err.message : String(err);
    // Another follower of this read model may have set it aside first: then it is not ours to count.
    let recorded = false;
    const behind = await this.commit([m], async (tx) => {
      await recordSetAside(tx, {
        follower: this.spec.name,
        stream: this.spec.stream,
        seq: m.seq,
        subject: m.subject,
        appendedAt: m.time,
        code,
        reason,
      });
      recorded = true;
    });
    if (recorded && !behind) {
      this.d.log.error(
        {
          projection: this.spec.name,
          stream: this.spec.stream,
          seq: m.seq,
          subject: m.subject,
          code,
          reason,
        },
        "follower set a frame aside: it cannot be applied; going on (GET /ops/read-models/set-aside)",
      );
      this.d.onSetAside?.(this.spec.name, m.seq, code);
    }
    return behind;
  }

  /**
   * In one transaction with the position's row locked: `work` on the messages past the recorded
   * position, then the position moved to the batch's last. True when the position is behind ours.
   */
  private async commit(
    batch: readonly StreamMsg[],
    work: (tx: Tx, todo: readonly StreamMsg[]) => Promise<void>,
  ): Promise<boolean> {
    const last = batch.at(-1);
    if (!last) return false;
    let behind = false;
    let reached = this.#position;
    await this.d.sql.begin(async (tx) => {
      // The position's row, locked for the transaction: another follower of this read model, or a
      // rebuild resetting it, waits for this batch (and this batch for them).
      // The row exists after the first batch: look it up (and lock it) first, create it only once.
      let [row] = await tx<{ last_seq: number }[]>`
        select last_seq from projection_offsets where name = ${this.spec.name} for update`;
      if (!row) {
        await tx`insert into projection_offsets (name, last_seq) values (${this.spec.name}, 0) on conflict do nothing`;
        [row] = await tx<{ last_seq: number }[]>`
          select last_seq from projection_offsets where name = ${this.spec.name} for update`;
      }
      const offset = row?.last_seq ?? 0;
      if (offset < this.#position) {
        behind = true;
        this.#position = offset;
        return;
      }
      const todo = batch.filter((m) => m.seq > offset);
      reached = Math.max(offset, last.seq);
      // The position moves in the same transaction as the rows, sent right away: pipelined with the
      // work's first statement (the row is locked above; all or nothing either way), one round trip
      // fewer per batch — what one payment at a time pays for each.
      const moving = tx`insert into projection_offsets (name, last_seq) values (${this.spec.name}, ${reached})
        on conflict (name) do update set last_seq = excluded.last_seq, updated_at = now(),
          failing_since = null, last_error = null`.execute();
      await Promise.all([moving, todo.length > 0 ? work(tx, todo) : undefined]);
    });
    if (behind) return true;
    // Only once committed: caughtUp() answers from the position, and a reader it lets through must
    // see the batch (moved inside the transaction, a reader could get in between and read without it).
    this.#position = reached;
    this.d.onApplied?.(this.spec.name, this.#position, last.time);
    for (const w of this.#waiters) {
      if (w.seq <= this.#position) {
        this.#waiters.delete(w);
        w.resolve();
      }
    }
    return false;
  }

  private async resubscribe(): Promise<void> {
    if (this.#stopped) return;
    this.d.log.info(
      { projection: this.spec.name, from: this.#position + 1 },
      "read model restarts from its recorded position",
    );
    await this.subscribe();
  }

  /** A failed batch (database away): nothing was recorded; read again from the recorded position. */
  private async restart(err: unknown): Promise<void> {
    if (this.#stopped) return;
    this.d.log.warn(
      { err, projection: this.spec.name },
      "read model batch failed; retrying from its position",
    );
    // Said where operators look (GET /ops/read-models), when the database still answers at all.
    const error = (err instanceof Error ? err.message : String(err)).slice(0, 500);
    await this.d.sql`update projection_offsets set failing_since = coalesce(failing_since, now()),
        last_error = ${error} where name = ${this.spec.name}`.catch(() => undefined);
    await this.closeMessages().catch(() => undefined);
    const asked = (err as Partial<RetryLater> | null)?.retryAfterMs;
    const wait = typeof asked === "number" ? asked : (this.spec.retryMs ?? 1_000);
    await new Promise<void>((r) => setTimeout(r, wait).unref());
    if (this.#stopped) return;
    try {
      this.#position = await readOffset(this.d.sql, this.spec.name);
      await this.subscribe();
    } catch (again) {
      await this.restart(again);
    }
  }
}

/** True when `p` settles within `ms` (a message, or the end), false when the time runs out first. */
async function readOffset(sql: Sql | Tx, name: string): Promise<number> {
  const rows = await sql<
    { last_seq: number }[]
  >`select last_seq from projection_offsets where name = ${name}`;
  return rows[0]?.last_seq ?? 0;
}

/**
 * Forget a read model: its position goes back to 0. In the caller's transaction, BEFORE it empties
 * the tables: the row lock makes a batch in flight finish first, and the next one wait and see 0.
 */
export async function resetOffset(tx: Tx, name: string, rebuildTo: number | null = null): Promise<void> {
  await tx`insert into projection_offsets (name, last_seq, rebuild_to) values (${name}, 0, ${rebuildTo})
    on conflict (name) do update set last_seq = 0, rebuild_to = excluded.rebuild_to, updated_at = now()`;
}
