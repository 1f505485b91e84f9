// The frames one payment's watch follows: its own ephemeral consumer on PAY_EVT, filtered on the
// payment's event subject, from the sequence after what the watch has already folded; no acks (the
// cheapest read JetStream has). The consumer is deleted when the watch ends, and expires on the
// server after INACTIVE_MS should this process die first: a watch never leaves one behind.
import { randomUUID } from "node:crypto";
import {
  AckPolicy,
  DeliverPolicy,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { eventSubject, type Topology } from "../../streams/topology.ts";

/** An idle consumer (its process gone) is removed by the server after this long. */
const INACTIVE_MS = 60_000;

export type WatchFeed = AsyncIterable<{ seq: number; data: Uint8Array }> & { close(): Promise<void> };

export type FrameFollower = (paymentId: string, afterSeq: number) => Promise<WatchFeed>;

export function followFrames(js: JetStreamClient, jsm: JetStreamManager, topo: Topology): FrameFollower {
  return async (paymentId, afterSeq) => {
    const stream = topo.eventStream;
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
    let messages: ConsumerMessages | undefined;
    let closed = false;
    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      await messages?.close();
      await jsm.consumers.delete(stream, name).catch(() => undefined);
    };
    try {
      const consumer = await js.consumers.get(stream, name);
      // A consumer gone (NATS restarted, the server expired it) ends the feed instead of retrying
      // without end: the watch tells its client to watch again.
      messages = await consumer.consume({
        max_messages: 64,
        expires: 10_000,
        idle_heartbeat: 2_500,
        abort_on_missing_resource: true,
      });
    } catch (err) {
      await close();
      throw err;
    }
    const feed = messages;
    return {
      async *[Symbol.asyncIterator]() {
        for await (const m of feed) yield { seq: m.seq, data: m.data };
      },
      close,
    };
  };
}
