// A follower's own read of a stream that only it follows (settlement, reconciliation; the janitor of
// a process without the event tap): a tap per open(), with the same recovery and progress watch as
// the process's tap of PAY_EVT (streams/event-tap.ts).
import type { JetStreamClient } from "@nats-io/jetstream";
import type { Logger } from "../config/log.ts";
import { EventTap, type FrameSource, type StallMetrics } from "./event-tap.ts";

/**
 * Each open() a tap of its own (one reader): for a stream one follower reads (settlement,
 * reconciliation), with the same recovery and progress watch as the process's tap of PAY_EVT.
 */
export function orderedSource(
  js: JetStreamClient,
  stream: string,
  log: Logger,
  o: { maxMessages?: number; stalls?: StallMetrics } = {},
): FrameSource {
  return {
    async open(from) {
      const tap = new EventTap(js, stream, log, { maxMessages: o.maxMessages ?? 500 });
      if (o.stalls) tap.countStallsIn(o.stalls);
      const feed = await tap.open(from).catch(async (err: unknown) => {
        await tap.stop();
        throw err;
      });
      return {
        [Symbol.asyncIterator]: () => feed[Symbol.asyncIterator](),
        close: async () => {
          await feed.close();
          await tap.stop();
        },
      };
    },
  };
}
