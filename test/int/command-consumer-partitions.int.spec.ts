// The command consumer starting and stopping partitions while it runs, on the real nats-server: a
// partition stopped with commands in hand finishes those, and sends back at once what its client had
// pulled and not started, so the partition's next consumer gets them in about a second rather than
// after the ack wait (30 s here).
import { expect } from "chai";
import { dispositionFor } from "../../actors/fate.ts";
import type { CommandConsumer, CommandHandler } from "../../streams/command-consumer.ts";
import { ack, type ConsumerFate } from "../../streams/disposition.ts";
import { encode } from "../../streams/envelopes.ts";
import { commandConsumer, openInfra, type Infra } from "../support/infra.ts";
import { waitFor } from "../support/wait.ts";

const fate: ConsumerFate = (failure, delivery) => dispositionFor(failure, delivery);
const COMMANDS = 100;

describe("command consumer: partitions started and stopped at run time (int)", function () {
  this.timeout(30_000);
  let infra: Infra;
  const consumers: CommandConsumer[] = [];
  /** Handlers held by a test; released after it, so a failed test does not hold its consumer's stop. */
  let releases: Array<() => void> = [];

  const consumer = (handler: CommandHandler) => {
    const c = commandConsumer(infra, handler, { fate });
    consumers.push(c);
    return c;
  };

  beforeEach(async () => {
    infra = await openInfra({ partitions: 2, ackWaitMs: 30_000 });
  });

  afterEach(async () => {
    for (const r of releases) r();
    releases = [];
    await Promise.all(consumers.map((c) => c.stop()));
    consumers.length = 0;
    await infra.close();
  });

  it("finishes what it holds and hands back what it buffered when a partition stops", async () => {
    const byFirst: string[] = [];
    const first = consumer(async (raw) => {
      await new Promise<void>((r) => releases.push(r));
      byFirst.push((raw as { name: string }).name);
      return { disposition: ack };
    });
    const bySecond: Array<{ name: string; deliveryCount: number }> = [];
    const second = consumer((raw, meta) => {
      bySecond.push({ name: (raw as { name: string }).name, deliveryCount: meta.deliveryCount });
      return Promise.resolve({ disposition: ack });
    });
    await first.startPartition(0);
    expect(first.partitions()).to.deep.equal([0]);
    for (let i = 0; i < COMMANDS; i++)
      await infra.js.publish(`${infra.topo.commandBase}.0.c${i}`, encode({ name: `c${i}` }));
    // 64 in hand (the per-partition bound); the client has pulled more behind them.
    await waitFor(() => releases.length === 64, { timeoutMs: 5_000, what: "64 commands in hand" });

    const stopping = first.stopPartition(0);
    await second.startPartition(0);
    // What was buffered comes to the second consumer after the hand-back delay, not the ack wait.
    const startedAt = Date.now();
    await waitFor(() => bySecond.length === COMMANDS - 64, {
      timeoutMs: 10_000,
      what: "the commands the first had not started, at the second",
    });
    expect(Date.now() - startedAt, "time for the buffered commands to come back").to.be.below(5_000);
    // Some (here: all) had been delivered to the first and were handed back: a second delivery.
    const counts = bySecond.map((h) => h.deliveryCount);
    expect(
      counts.some((n) => n === 2),
      "commands handed back by the first",
    ).to.equal(true);
    expect(Math.max(...counts)).to.equal(2);
    // The first still holds its 64: its stop waits for them, and they are acknowledged by it.
    for (const r of releases) r();
    await stopping;
    expect(first.partitions()).to.deep.equal([]);
    expect(byFirst).to.have.length(64);
    const all = [...byFirst, ...bySecond.map((h) => h.name)].sort();
    expect(all, "every command handled once").to.deep.equal(
      Array.from({ length: COMMANDS }, (_, i) => `c${i}`).sort(),
    );
    // Acknowledgements are sent without waiting for the server: the stream empties as they land.
    await waitFor(async () => (await infra.jsm.streams.info(infra.topo.commandStream)).state.messages === 0, {
      timeoutMs: 5_000,
      what: "nothing left in PAY_CMD",
    });
  });

  it("starts a partition again after stopping it, and ignores a start of one it already runs", async () => {
    const seen: string[] = [];
    const c = consumer((raw) => {
      seen.push((raw as { name: string }).name);
      return Promise.resolve({ disposition: ack });
    });
    await Promise.all([c.startPartition(1), c.startPartition(1)]);
    await infra.js.publish(`${infra.topo.commandBase}.1.a`, encode({ name: "a" }));
    await waitFor(() => seen.includes("a"), { timeoutMs: 5_000, what: "a" });
    await c.stopPartition(1);
    await infra.js.publish(`${infra.topo.commandBase}.1.b`, encode({ name: "b" }));
    await c.startPartition(1);
    await waitFor(() => seen.includes("b"), { timeoutMs: 5_000, what: "b after the restart" });
    expect(seen).to.deep.equal(["a", "b"]);
  });
});
