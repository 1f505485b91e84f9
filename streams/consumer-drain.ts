// Before a pull consumer's iterator is stopped: wait (bounded) until every message the server
// delivered to it has come out of the iterator. A pull answered just before the stop would
// otherwise land on an inbox no longer listened to, and those messages wait out the whole ack wait
// (30 s by default) before anyone gets them. The consumer's delivered sequence says how far the
// server got; the caller says how far its iterator got. Another client pulling the same consumer at
// the time (a partition's handover) moves the server's count too: then this gives up at the bound.
import type { Consumer } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";

/** At most this long (ms) for deliveries still on their way. */
export const DRAIN_MAX_MS = 1_000;
const POLL_MS = 20;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function drainDeliveries(
  nc: NatsConnection,
  consumer: Consumer,
  lastSeen: () => number,
  maxMs = DRAIN_MAX_MS,
): Promise<void> {
  const until = Date.now() + maxMs;
  for (;;) {
    await nextTurn();
    if (Date.now() >= until) return;
    try {
      // A round trip on the connection: what the server had written to us before is read first.
      await nc.flush();
      const info = await consumer.info(false);
      await nextTurn();
      if (info.delivered.consumer_seq <= lastSeen()) return;
    } catch {
      return; // the server is not answering: nothing more to learn, stop as before
    }
    await new Promise<void>((resolve) => setTimeout(resolve, POLL_MS));
  }
}
