// A gRPC watch's feed of one payment's frames (gateway/grpc/watch-feed.ts) against a real NATS: it
// hands out the frames after the watch's position, in order, and stays on its consumer while the
// server's heartbeats come; a consumer deleted under it, or one that goes silent (its subscription
// cut under the client: no frame, no heartbeat, the consumer still on the server — what a dead
// consumer node looks like from here), is replaced by a new consumer from the frame after the last
// one given, counted and logged; a stream gone ends the feed with an error (the watch: watch again).
import { expect } from "chai";
import type { ConsumerMessages } from "@nats-io/jetstream";
import { Counter, Registry } from "prom-client";
import { followFrames, type FollowOptions, type WatchFeed } from "../../gateway/grpc/watch-feed.ts";
import { eventSubject } from "../../streams/topology.ts";
import { openInfra, type Infra } from "../support/infra.ts";
import { capturingLogger } from "../support/log-capture.ts";
import { waitFor } from "../support/wait.ts";

const HEARTBEAT_MS = 500;
const SILENT_MS = 2_000;

describe("the gRPC watch's feed of a payment's frames (real NATS)", function () {
  this.timeout(30_000);
  let infra: Infra;

  before(async () => {
    infra = await openInfra({ partitions: 1 });
  });
  after(async () => {
    await infra?.close();
  });

  /** A feed with test timings; every consumer's messages, its reopen counts, its log. */
  const follow = (paymentId: string, afterSeq: number, cut?: (n: number) => boolean) => {
    const registry = new Registry();
    const reopened = new Counter({
      name: "reopened",
      help: "reopened",
      labelNames: ["reason"] as const,
      registers: [registry],
    });
    const opened: ConsumerMessages[] = [];
    const heartbeats: number[] = [];
    const { log, lines } = capturingLogger("info");
    const o: FollowOptions = {
      log,
      nc: infra.nc,
      reopened,
      heartbeatMs: HEARTBEAT_MS,
      silentMs: SILENT_MS,
      onConsume: (m) => {
        const n = opened.push(m) - 1;
        heartbeats[n] = 0;
        void (async () => {
          for await (const s of m.status()) if (s.type === "heartbeat") heartbeats[n]!++;
        })();
        if (cut?.(n)) (m as unknown as { sub: { unsubscribe(): void } }).sub.unsubscribe();
      },
    };
    const count = async (reason: string) =>
      (await reopened.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
    return {
      feed: followFrames(infra.js, infra.jsm, infra.topo, o)(paymentId, afterSeq),
      opened,
      heartbeats,
      count,
      lines,
    };
  };

  const append = async (paymentId: string, n: number) =>
    (await infra.js.publish(eventSubject(infra.topo, paymentId), `frame-${n}`)).seq;

  /** Reads `n` frames from a feed's iterator (one iterator kept across calls). */
  const reader = (feed: WatchFeed) => {
    const it = feed[Symbol.asyncIterator]();
    return async (n: number) => {
      const got: string[] = [];
      while (got.length < n) {
        const r = await it.next();
        if (r.done) break;
        got.push(new TextDecoder().decode(r.value.data));
      }
      return got;
    };
  };

  const watchConsumers = async () => {
    const names: string[] = [];
    for await (const c of infra.jsm.consumers.list(infra.topo.eventStream))
      if (c.name.startsWith("watch_")) names.push(c.name);
    return names;
  };

  it("hands out the frames after the watch's position, and stays on its consumer while heartbeats come", async () => {
    const first = await append("pay_a", 1);
    await append("pay_b", 1);
    await append("pay_a", 2);
    const f = follow("pay_a", first);
    const feed = await f.feed;
    const read = reader(feed);
    expect(await read(1)).to.deep.equal(["frame-2"]);
    // Idle for more than the silence allowed, heartbeats coming: no new consumer.
    await waitFor(() => (f.heartbeats[0] ?? 0) >= 6, { timeoutMs: 10_000, what: "six heartbeats" });
    expect(f.opened).to.have.length(1);
    expect(await f.count("silent")).to.equal(0);
    await append("pay_a", 3);
    expect(await read(1)).to.deep.equal(["frame-3"]);
    await feed.close();
    expect(await watchConsumers()).to.deep.equal([]);
  });

  it("reads on with a new consumer when its consumer is deleted under it", async () => {
    const f = follow("pay_c", 0);
    const feed = await f.feed;
    const read = reader(feed);
    await append("pay_c", 1);
    expect(await read(1)).to.deep.equal(["frame-1"]);
    const [name] = await watchConsumers();
    await infra.jsm.consumers.delete(infra.topo.eventStream, name!);
    await append("pay_c", 2);
    expect(await read(1)).to.deep.equal(["frame-2"]);
    expect(f.opened).to.have.length(2);
    expect(await f.count("ended")).to.equal(1);
    expect(
      f.lines.some((l) => l.includes("reading again with a new consumer") && l.includes('"read":')),
    ).to.equal(true);
    await feed.close();
    expect(await watchConsumers()).to.deep.equal([]);
  });

  it("reads on with a new consumer when its consumer goes silent (no frame, no heartbeat)", async () => {
    const f = follow("pay_d", 0, (n) => n === 0);
    const feed = await f.feed;
    const read = reader(feed);
    const seq1 = await append("pay_d", 1);
    // The first consumer hears nothing: its frame comes through the second, from the position.
    expect(await read(1)).to.deep.equal(["frame-1"]);
    expect(f.opened).to.have.length(2);
    expect(await f.count("silent")).to.equal(1);
    await append("pay_d", 2);
    expect(await read(1)).to.deep.equal(["frame-2"]);
    expect(seq1).to.be.above(0);
    await feed.close();
    // The silent one is deleted too (it was still on the server).
    await waitFor(async () => (await watchConsumers()).length === 0, {
      timeoutMs: 5_000,
      what: "no watch consumer left",
    });
  });

  it("ends with an error when no new consumer can be made (the stream gone)", async () => {
    const f = follow("pay_e", 0);
    const feed = await f.feed;
    const read = reader(feed);
    await append("pay_e", 1);
    expect(await read(1)).to.deep.equal(["frame-1"]);
    await infra.jsm.streams.delete(infra.topo.eventStream);
    let failed: unknown;
    try {
      await read(1);
    } catch (err) {
      failed = err;
    }
    expect(String(failed)).to.match(/stream not found/);
    await feed.close();
  });
});
