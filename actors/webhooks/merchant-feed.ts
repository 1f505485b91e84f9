// The merchant events feed for internal systems (PAY_OUT, docs/nats-permissions.md): every merchant
// event the webhook dispatcher stored (webhook_events: the very JSON the merchant webhooks deliver)
// published to `<base>.pay.out.<merchantId>.<paymentId>`, with `Nats-Msg-Id` = the event id.
//
// An outbox with its own position (the `merchant-feed` row in projection_offsets): a round reads the
// position and the events of the next whole PAY_EVT frames past it (one statement), publishes them
// in order, waits for every ack, then moves the position forward (one statement) — so nothing is
// published before the dispatcher's transaction that stored it is committed, and a crash before the
// move publishes the round again: the stream's duplicate window drops what it had (same msg id), and
// a restart later than that window resumes past the stream's own last message (its Sy-Evt-Seq and
// Sy-Evt-Idx headers), so an event is on PAY_OUT once. No lock: two processes' rounds at the same
// moment publish the same events, which the duplicate window drops; each publishes in order on its
// connection, so an event is stored only after every earlier one (by either), and a payment's events
// stay in order on PAY_OUT. Off the payment path: the dispatcher only wakes it after a batch that
// stored events; a NATS or database failure is counted, logged and retried.
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "../../config/log.ts";
import type { Metrics } from "../../config/metrics.ts";
import type { Sql } from "../../streams/db/client.ts";
import { merchantEventSubject, type Topology } from "../../streams/topology.ts";
import { WireHeaders } from "../../streams/wire-headers.ts";

/** The publisher's row in projection_offsets: the last PAY_EVT sequence whose events are on PAY_OUT. */
export const MERCHANT_FEED = "merchant-feed";
/** Headers on each PAY_OUT message: where its event sits in PAY_EVT (frame sequence, index in it). */
export const EVT_SEQ_HEADER = "Sy-Evt-Seq";
export const EVT_IDX_HEADER = "Sy-Evt-Idx";

/** A subject token a merchant or payment id must be to be published (the ids' own contract). */
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

export type MerchantFeedOptions = {
  js: JetStreamClient;
  jsm: JetStreamManager;
  topo: Topology;
  sql: Sql;
  metrics: Pick<Metrics, "merchantFeed" | "merchantFeedLag">;
  log: Logger;
  /** Events per round at most (whole frames: a frame's events are never split). */
  batch?: number;
  /**
   * An idle publisher looks this often (events another process's dispatcher stored, whose own
   * publisher died): one statement.
   */
  pollMs?: number;
  /** After a failed round, the next one this much later. */
  retryMs?: number;
  /**
   * How long a wake waits for more before the round (20 ms): with one payment in flight the
   * dispatcher commits a batch per payment, and a round each (two statements, its publishes and
   * their acks) was 4–13 % of a payment's CPU at one client; under load rounds are full anyway.
   */
  gatherMs?: number;
};

type Row = {
  id: string;
  merchant_id: string;
  payment_id: string;
  seq: string;
  idx: number;
  appended_at: Date;
  body: string;
};
type Cursor = { seq: number; idx: number };

export class MerchantFeedPublisher {
  #stopped = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #woken = false;
  #gathering: NodeJS.Timeout | undefined;
  /** The stream's last message when this process started: events up to it are on PAY_OUT already. */
  #floor: Cursor | undefined;
  #position = 0;
  readonly #waiters = new Set<{ seq: number; resolve: () => void }>();

  constructor(private readonly o: MerchantFeedOptions) {}

  /** The PAY_EVT sequence up to which this process has seen the events published. */
  get position(): number {
    return this.#position;
  }

  async start(): Promise<void> {
    this.o.metrics.merchantFeed.inc({ result: "published" }, 0);
    this.o.metrics.merchantFeed.inc({ result: "failed" }, 0);
    this.#floor = await this.lastPublished().catch((err: unknown) => {
      // Without it, only the duplicate window guards a restart: said, and started anyway.
      this.o.log.warn(
        { err },
        "merchant feed: PAY_OUT's last message not read; relying on its duplicate window",
      );
      return undefined;
    });
    this.#loop = this.run();
  }

  /** A batch with merchant events was committed: look once the next few have had gatherMs to come. */
  wake(): void {
    if (this.#gathering !== undefined || this.#stopped) return;
    this.#gathering = setTimeout(() => {
      this.#gathering = undefined;
      this.#woken = true;
      this.#wake?.();
    }, this.o.gatherMs ?? 20);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#gathering);
    this.#gathering = undefined;
    this.#wake?.();
    await this.#loop;
  }

  /** Resolves when this process has seen the events of PAY_EVT up to `seq` published. */
  caughtUp(seq: number): Promise<void> {
    if (seq <= this.#position) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.add({ seq, resolve }));
  }

  private async run(): Promise<void> {
    while (!this.#stopped) {
      let delay = this.o.pollMs ?? 5_000;
      this.#woken = false;
      try {
        if (await this.round()) continue;
      } catch (err) {
        this.o.metrics.merchantFeed.inc({ result: "failed" });
        this.o.log.warn(
          { err, position: this.#position },
          "merchant feed: publishing to PAY_OUT failed; retrying",
        );
        delay = this.o.retryMs ?? 1_000;
      }
      if (this.#woken || this.#stopped) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  /** One round; true when it published a full batch (there may be more). */
  private async round(): Promise<boolean> {
    const batch = this.o.batch ?? 512;
    let next = await this.pending(batch);
    if (next === undefined) {
      // First start: the events still inside PAY_OUT's window are published, older ones not.
      const since = new Date(Date.now() - this.o.topo.merchantEventMaxAgeMs);
      await this.o.sql`insert into projection_offsets (name, last_seq)
        select ${MERCHANT_FEED}, coalesce(max(seq), 0) from webhook_events where appended_at < ${since}
        on conflict do nothing`;
      next = (await this.pending(batch)) ?? { from: 0, rows: [] };
    }
    const { from, rows } = next;
    let reached = from;
    const oldest = rows[0]?.appended_at;
    this.o.metrics.merchantFeedLag.set(oldest ? Math.max(0, Date.now() - oldest.getTime()) / 1000 : 0);
    if (rows.length > 0) {
      const published = await this.publish(rows);
      reached = Number(rows.at(-1)?.seq ?? from);
      // Only forward: a publisher of another process may have moved it further meanwhile.
      await this.o.sql`update projection_offsets set last_seq = ${reached}, updated_at = now()
        where name = ${MERCHANT_FEED} and last_seq < ${reached}`;
      if (published > 0) this.o.metrics.merchantFeed.inc({ result: "published" }, published);
      if (rows.length < batch) this.o.metrics.merchantFeedLag.set(0);
    }
    this.#position = Math.max(this.#position, reached);
    for (const w of this.#waiters)
      if (w.seq <= this.#position) {
        this.#waiters.delete(w);
        w.resolve();
      }
    return rows.length >= batch;
  }

  /**
   * The recorded position and, in the same statement, the events of the first whole frames past it
   * (at least `batch` events when there are that many); undefined when there is no position yet.
   */
  private async pending(batch: number): Promise<{ from: number; rows: Row[] } | undefined> {
    const got = await this.o.sql<Array<Row & { from_seq: string }>>`
      with pos as (select last_seq as p from projection_offsets where name = ${MERCHANT_FEED})
      select pos.p as from_seq, e.id, e.merchant_id, e.payment_id, e.seq, e.idx, e.appended_at,
        e.body::text as body
      from pos left join lateral (
        select * from webhook_events w where w.seq > pos.p and w.seq <= (select max(seq) from
          (select seq from webhook_events where seq > pos.p order by seq limit ${batch}) firsts)
      ) e on true
      order by e.seq, e.idx`;
    const first = got[0];
    if (first === undefined) return undefined;
    return { from: Number(first.from_seq), rows: got.filter((r) => r.id !== null) };
  }

  /** Published in order, all at once; resolves once every ack came (rejects if any failed). */
  private async publish(rows: readonly Row[]): Promise<number> {
    const floor = this.#floor;
    const acks: Array<Promise<unknown>> = [];
    for (const r of rows) {
      const at = { seq: Number(r.seq), idx: r.idx };
      if (floor && (at.seq < floor.seq || (at.seq === floor.seq && at.idx <= floor.idx))) continue;
      if (!TOKEN.test(r.merchant_id) || !TOKEN.test(r.payment_id)) {
        // Never on another merchant's subject: an id that is not one token is not published at all.
        this.o.metrics.merchantFeed.inc({ result: "failed" });
        this.o.log.error(
          { eventId: r.id, seq: at.seq },
          "merchant feed: event not published, its ids are not subject tokens",
        );
        continue;
      }
      const h = new WireHeaders();
      h.set(EVT_SEQ_HEADER, String(at.seq));
      h.set(EVT_IDX_HEADER, String(at.idx));
      acks.push(
        this.o.js.publish(merchantEventSubject(this.o.topo, r.merchant_id, r.payment_id), r.body, {
          msgID: r.id,
          headers: h,
        }),
      );
    }
    const results = await Promise.allSettled(acks);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    return acks.length;
  }

  /** Where PAY_OUT's last message came from in PAY_EVT, if it has one. */
  private async lastPublished(): Promise<Cursor | undefined> {
    const info = await this.o.jsm.streams.info(this.o.topo.merchantEventStream);
    if (info.state.messages === 0) return undefined;
    const m = await this.o.jsm.streams.getMessage(this.o.topo.merchantEventStream, {
      seq: info.state.last_seq,
    });
    const seq = Number(m?.header.get(EVT_SEQ_HEADER));
    const idx = Number(m?.header.get(EVT_IDX_HEADER));
    return Number.isSafeInteger(seq) && Number.isSafeInteger(idx) && m?.header.get(EVT_SEQ_HEADER)
      ? { seq, idx }
      : undefined;
  }
}
