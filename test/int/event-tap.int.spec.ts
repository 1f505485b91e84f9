// The event tap against real JetStream: one ordered consumer per process whose messages every reader
// gets from its own position, in order, once; a reader that goes back makes the tap read again
// without handing the others anything twice; a reader that stops reading holds the tap back only
// until it closes; every reader gets the same message object (what one decodes, the others reuse).
import { expect } from "chai";
import { jetstream, type ConsumerMessages, type JetStreamClient } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import type { Logger } from "../../config/log.ts";
import { createMetrics } from "../../config/metrics.ts";
import { EventTap, jsonOf, type FrameFeed, type StreamMsg } from "../../streams/event-tap.ts";
import { encode } from "../../streams/envelopes.ts";
import { NATS_URL, openInfra, type Infra } from "../support/infra.ts";
import { waitFor } from "../support/wait.ts";

describe("event tap (real JetStream)", function () {
  this.timeout(30_000);
  let infra: Infra;
  let tap: EventTap;
  let subject: string;

  before(async () => {
    infra = await openInfra();
    subject = `${infra.topo.eventBase}.tap`;
  });
  beforeEach(() => {
    tap = new EventTap(infra.js, infra.topo.eventStream, infra.log);
  });
  afterEach(async () => {
    await tap.stop();
    await infra.jsm.streams.purge(infra.topo.eventStream);
  });
  after(async () => {
    await infra.close();
  });

  /** Append `n` messages; their stream sequences. */
  const append = async (n: number): Promise<number[]> => {
    const seqs: number[] = [];
    for (let i = 0; i < n; i++) seqs.push((await infra.js.publish(subject, encode({ i }))).seq);
    return seqs;
  };

  /** Everything `feed` yields, kept as it comes (read in the background until closed). */
  const collect = (feed: FrameFeed): StreamMsg[] => {
    const got: StreamMsg[] = [];
    void (async () => {
      for await (const { msg } of feed) got.push(msg);
    })();
    return got;
  };
  const seqsOf = (msgs: StreamMsg[]) => msgs.map((m) => m.seq);
  const until = (msgs: StreamMsg[], n: number, what: string) =>
    waitFor(() => msgs.length >= n, { timeoutMs: 10_000, what });

  it("gives each reader the stream from its own position, in order, once, as the same objects", async () => {
    const seqs = await append(30);
    const a = collect(await tap.open(seqs[0]!));
    const b = collect(await tap.open(seqs[20]!));
    await until(a, 30, "reader a at the head");
    await until(b, 10, "reader b at the head");
    expect(seqsOf(a)).to.deep.equal(seqs);
    expect(seqsOf(b)).to.deep.equal(seqs.slice(20));
    // One read, one object: what a decoded is b's too.
    expect(b[0]).to.equal(a[20]);
    expect(jsonOf(b[0]!)).to.equal(jsonOf(a[20]!));
    expect(jsonOf(a[3]!)).to.deep.equal({ i: 3 });
  });

  it("reads again for a reader that goes back, and hands the others nothing twice", async () => {
    const first = await append(20);
    const a = collect(await tap.open(first[0]!));
    await until(a, 20, "reader a at the head");
    // A rebuild: this reader starts over from the beginning while a goes on.
    const again = collect(await tap.open(first[0]!));
    const more = await append(10);
    await until(again, 30, "the reader that went back at the head");
    await until(a, 30, "reader a at the new head");
    expect(seqsOf(again)).to.deep.equal([...first, ...more]);
    expect(seqsOf(a)).to.deep.equal([...first, ...more]);
  });

  it("is held back by a reader that does not read only until it closes", async () => {
    const seqs = await append(1_200);
    const idle = await tap.open(seqs[0]!); // never read: its queue fills (1,024) and the tap waits
    const a = collect(await tap.open(seqs[0]!));
    await until(a, 1_000, "reader a past the first thousand");
    await idle.close();
    await until(a, 1_200, "reader a at the head once the idle reader closed");
    expect(seqsOf(a)).to.deep.equal(seqs);
  });

  it("hands a reader what is appended after it caught up, as it comes", async () => {
    const a = collect(await tap.open(1));
    const seqs = await append(5);
    await until(a, 5, "the new messages");
    expect(seqsOf(a)).to.deep.equal(seqs);
    expect(a.every((m) => m.subject === subject && m.time instanceof Date)).to.equal(true);
  });

  /**
   * The test's tap replaced by a watched one looking every `watchMs`, its stalls counted in a
   * registry of its own: `stalls()` reads the count by stream.
   */
  const watchedTap = async (o: { watchMs: number; stallFirst?: boolean }) => {
    await tap.stop();
    const metrics = createMetrics();
    const watched = new StalledFirstTap(infra.js, infra.topo.eventStream, infra.log, o);
    tap = watched;
    tap.countStallsIn(metrics);
    const stalls = async () =>
      Object.fromEntries(
        (await metrics.streamReaderStalls.get()).values.map((v) => [String(v.labels.stream), v.value]),
      );
    return { watched, stalls };
  };

  it("replaces a consumer that hands out nothing while the stream holds more, logged and counted", async () => {
    const { watched: stalled, stalls } = await watchedTap({ watchMs: 150 });
    const a = collect(await tap.open(1));
    const seqs = await append(20);
    await until(a, 20, "every message, through a second consumer");
    expect(seqsOf(a)).to.deep.equal(seqs);
    expect(stalled.consumers).to.equal(2);
    expect(await stalls()).to.deep.equal({ [infra.topo.eventStream]: 1 });
  });

  it("does not count an idle stream, or a reader that holds the tap back, as a stall", async () => {
    const { watched, stalls } = await watchedTap({ watchMs: 100, stallFirst: false });
    const seqs = await append(1_100);
    const idle = await tap.open(seqs[0]!); // never read: the tap waits for room, the stream ahead
    const a = collect(await tap.open(seqs[0]!));
    await until(a, 1_000, "reader a past the first thousand");
    // Many looks while held back by the idle reader, then at the head of an idle stream.
    await watched.looked(8);
    await idle.close();
    await until(a, 1_100, "reader a at the head");
    await watched.looked(watched.looks + 4);
    expect(await stalls()).to.deep.equal({ [infra.topo.eventStream]: 0 });
    expect(watched.consumers).to.equal(1);
  });

  it("does not count a purged stream, whose last sequence is past what it can hand out, as a stall", async () => {
    const { watched, stalls } = await watchedTap({ watchMs: 100, stallFirst: false });
    const gone = await append(5);
    await infra.jsm.streams.purge(infra.topo.eventStream);
    // A reader from before the purge: the stream's last sequence is 5, and nothing is left to read.
    const a = collect(await tap.open(gone[0]!));
    await watched.looked(6);
    expect(await stalls()).to.deep.equal({ [infra.topo.eventStream]: 0 });
    expect(watched.consumers).to.equal(1);
    const more = await append(2);
    await until(a, 2, "what is appended after the purge");
    expect(seqsOf(a)).to.deep.equal(more);
  });

  it("does not count a stream whose last message was deleted, its last sequence past what it holds, as a stall", async () => {
    const { watched, stalls } = await watchedTap({ watchMs: 100, stallFirst: false });
    const seqs = await append(5);
    await infra.jsm.streams.deleteMessage(infra.topo.eventStream, seqs[4]!);
    await infra.jsm.streams.deleteMessage(infra.topo.eventStream, seqs[3]!);
    const a = collect(await tap.open(seqs[0]!));
    await until(a, 3, "what the stream still holds");
    // The stream says last_seq 5 while the tap read 3: nothing is past it, so no look is a stall.
    await watched.looked(watched.looks + 6);
    expect(await stalls()).to.deep.equal({ [infra.topo.eventStream]: 0 });
    expect(watched.consumers).to.equal(1);
    const more = await append(1);
    await until(a, 4, "what is appended after the deletes");
    expect(seqsOf(a)).to.deep.equal([...seqs.slice(0, 3), ...more]);
  });
});

describe("event tap on a connection closed for good (real JetStream)", function () {
  this.timeout(30_000);

  it("ends quietly with its connection: no loop reading again on a connection that cannot come back", async () => {
    const infra = await openInfra();
    const lines: Array<{ msg?: string }> = [];
    const log = pino(
      { level: "warn" },
      { write: (l: string) => lines.push(JSON.parse(l) as { msg?: string }) },
    );
    const nc = await connect({ servers: NATS_URL });
    const tap = new StalledFirstTap(jetstream(nc), infra.topo.eventStream, log, {
      watchMs: 100,
      stallFirst: false,
    });
    try {
      const got: number[] = [];
      const feed = await tap.open(1);
      void (async () => {
        for await (const { msg } of feed) got.push(msg.seq);
      })();
      const seq = (await infra.js.publish(`${infra.topo.eventBase}.closed`, encode({ i: 0 }))).seq;
      await waitFor(() => got.includes(seq), { timeoutMs: 10_000, what: "the first message" });
      await nc.close();
      // The consumer ends with the connection; what the tap does about it runs once the turn's
      // microtasks have (the end is pushed through the consumer's own queue).
      await tap.last!.closed();
      await new Promise((resolve) => setImmediate(resolve));
      expect(lines.map((l) => l.msg)).to.deep.equal([]);
    } finally {
      await tap.stop();
      await infra.close();
    }
  });
});

/**
 * A tap whose first consumer stops delivering without the client noticing: its subscription to the
 * pulls' answers is gone, so the consumer stays on the server, the client's heartbeat check finds it
 * there and pulls again, and nothing ever arrives — the stall only the tap's own watch sees.
 */
class StalledFirstTap extends EventTap {
  consumers = 0;
  looks = 0;
  readonly #stallFirst: boolean;

  constructor(
    js: JetStreamClient,
    stream: string,
    log: Logger,
    o: { watchMs: number; stallFirst?: boolean },
  ) {
    super(js, stream, log, { watchMs: o.watchMs });
    this.#stallFirst = o.stallFirst ?? true;
  }

  /** The last consumer's messages. */
  last: ConsumerMessages | undefined;

  protected override async consume(from: number): Promise<ConsumerMessages> {
    const messages = await super.consume(from);
    this.last = messages;
    if (++this.consumers === 1 && this.#stallFirst)
      (messages as unknown as { sub: { unsubscribe(): void } }).sub.unsubscribe();
    return messages;
  }

  protected override async look(): Promise<void> {
    await super.look();
    this.looks++;
  }

  /** Resolves once the tap has looked at its progress `n` times in all. */
  looked(n: number): Promise<void> {
    return waitFor(() => this.looks >= n, { timeoutMs: 10_000, what: `${n} looks` }).then(() => undefined);
  }
}
