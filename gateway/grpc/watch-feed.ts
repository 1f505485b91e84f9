// The frames one payment's watch follows: its own ephemeral consumer on PAY_EVT, filtered on the
// payment's event subject, from the sequence after what the watch has already folded; no acks (the
// cheapest read JetStream has). The consumer is deleted when the watch ends, and expires on the
// server after INACTIVE_MS should this process die first: a watch never leaves one behind.
//
// A consumer can stop under the watch without the feed ending: it is R1 and in memory, on the node
// leading PAY_EVT, and when that node dies the client's recovery asks the consumer's info, which
// nobody answers, again and again (the event tap met the same: streams/event-tap.ts). The server
// sends a heartbeat every IDLE_HEARTBEAT_MS while it has nothing to deliver, so a feed that hears
// neither a frame nor a heartbeat for SILENT_MS (its connection up) is read again with a new
// consumer from the frame after the last one it gave; so is one whose consumer is gone (deleted,
// expired, NATS restarted: the consumer is in memory).
// Only when no new consumer can be made within REOPEN_FOR_MS (a node's death takes a few seconds of
// elections), or the new ones stay silent too, does the feed end, and the watch tells its client to
// watch again.
import { randomUUID } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import {
  AckPolicy,
  DeliverPolicy,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import type { Counter } from "prom-client";
import type { Logger } from "../../config/log.ts";
import { isConnected } from "../../streams/connection.ts";
import { isStreamNotFound } from "../../streams/jetstream-errors.ts";
import { eventSubject, type Topology } from "../../streams/topology.ts";

/** An idle consumer (its process gone) is removed by the server after this long. */
const INACTIVE_MS = 60_000;
const IDLE_HEARTBEAT_MS = 2_500;
/** Four heartbeats missed: the consumer's node is gone, or its answers go nowhere. */
const SILENT_MS = 4 * IDLE_HEARTBEAT_MS;
/** New consumers in a row that heard nothing before the feed gives up. */
const MAX_SILENT_REOPENS = 3;
/** How long a new consumer is tried for before the watch ends (UNAVAILABLE: watch again). */
const REOPEN_FOR_MS = 30_000;

export type WatchFeed = AsyncIterable<{ seq: number; data: Uint8Array }> & { close(): Promise<void> };

export type FrameFollower = (paymentId: string, afterSeq: number) => Promise<WatchFeed>;

export type FollowOptions = {
  log: Logger;
  /**
   * The connection the consumers are read over. Silence is not counted while it is down (the library
   * checks the consumer once it reconnects: gone after a NATS restart, and the feed is read again
   * then); once it is closed for good (the process stopping) no new consumer is tried.
   */
  nc: NatsConnection;
  /** Counts each consumer replaced under a watch, by why: `silent` or `ended`. */
  reopened?: Pick<Counter<"reason">, "inc">;
  /** Tests: a shorter silence, and each consumer's messages as they are opened. */
  heartbeatMs?: number;
  silentMs?: number;
  onConsume?: (messages: ConsumerMessages) => void;
};

export function followFrames(
  js: JetStreamClient,
  jsm: JetStreamManager,
  topo: Topology,
  o: FollowOptions,
): FrameFollower {
  const stream = topo.eventStream;
  const heartbeatMs = o.heartbeatMs ?? IDLE_HEARTBEAT_MS;
  const silentMs = o.silentMs ?? SILENT_MS;

  /** A consumer of the payment's frames after `afterSeq`, and its messages. */
  const open = async (paymentId: string, afterSeq: number): Promise<Reader> => {
    const name = `watch_${randomUUID().replaceAll("-", "")}`;
    await jsm.consumers.add(stream, {
      name,
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: afterSeq + 1,
      filter_subject: eventSubject(topo, paymentId),
      inactive_threshold: nanos(INACTIVE_MS),
      mem_storage: true,
      num_replicas: 1,
    });
    const drop = () =>
      jsm.consumers.delete(stream, name).then(
        () => undefined,
        () => undefined,
      );
    try {
      const consumer = await js.consumers.get(stream, name);
      // A consumer gone makes the library end its messages instead of retrying without end.
      const messages = await consumer.consume({
        max_messages: 64,
        expires: 10_000,
        idle_heartbeat: heartbeatMs,
        abort_on_missing_resource: true,
      });
      o.onConsume?.(messages);
      return new Reader(messages, silentMs, () => isConnected(o.nc), drop);
    } catch (err) {
      await drop();
      throw err;
    }
  };

  /**
   * `open` again, through what follows a node's death: the stream electing a leader, the meta layer
   * too, the connection moving to another node — each a few seconds in which a consumer create goes
   * unanswered. Tried for up to REOPEN_FOR_MS; a stream that is gone, or a connection closed for good,
   * is not waited for.
   */
  const reopen = async (paymentId: string, afterSeq: number, closed: () => boolean): Promise<Reader> => {
    const until = Date.now() + REOPEN_FOR_MS;
    for (let delayMs = 250; ; delayMs = Math.min(delayMs * 2, 4_000)) {
      try {
        return await open(paymentId, afterSeq);
      } catch (err) {
        if (isStreamNotFound(err) || closed() || o.nc.isClosed() || Date.now() + delayMs > until) throw err;
        o.log.debug({ err, paymentId }, "gRPC watch: no new consumer yet; trying again");
        await delay(delayMs);
      }
    }
  };

  return async (paymentId, afterSeq) => {
    let reader = await open(paymentId, afterSeq);
    let closed = false;
    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      await reader.close();
    };
    return {
      async *[Symbol.asyncIterator]() {
        let last = afterSeq;
        let silentInARow = 0;
        for (;;) {
          let ended: unknown;
          try {
            for await (const m of reader.messages) {
              reader.alive();
              last = m.seq;
              yield { seq: m.seq, data: m.data };
            }
          } catch (err) {
            ended = err; // its consumer gone (abort_on_missing_resource), say
          }
          if (closed) return;
          const why = reader.silent ? "silent" : "ended";
          silentInARow = reader.heard ? 0 : silentInARow + 1;
          if (silentInARow > MAX_SILENT_REOPENS) return; // the watch says: watch again
          o.log.warn(
            { paymentId, read: last, reason: why, err: ended },
            "gRPC watch: its feed stopped without ending the watch; reading again with a new consumer",
          );
          o.reopened?.inc({ reason: why });
          void reader.close();
          reader = await reopen(paymentId, last, () => closed);
          if (closed) {
            await reader.close();
            return;
          }
        }
      },
      close,
    };
  };
}

/**
 * One consumer's messages, stopped when neither a frame nor a heartbeat came for `silentMs`;
 * `heard` says whether anything at all came (a new consumer that never hears is not tried forever).
 */
class Reader {
  silent = false;
  heard = false;
  readonly #timer: NodeJS.Timeout;

  constructor(
    readonly messages: ConsumerMessages,
    silentMs: number,
    connected: () => boolean,
    private readonly drop: () => Promise<void>,
  ) {
    this.#timer = setTimeout(() => {
      if (!connected()) {
        this.#timer.refresh();
        return;
      }
      this.silent = true;
      messages.stop();
    }, silentMs);
    this.#timer.unref();
    void (async () => {
      for await (const s of messages.status()) if (s.type === "heartbeat") this.alive();
    })();
  }

  /** A frame or a heartbeat came. */
  alive(): void {
    this.heard = true;
    this.#timer.refresh();
  }

  /** stop(), not close(): close() waits for the pull under way, up to its expiry. */
  async close(): Promise<void> {
    clearTimeout(this.#timer);
    this.messages.stop();
    await this.drop();
  }
}
