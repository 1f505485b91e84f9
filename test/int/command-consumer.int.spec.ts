// The command consumer's dead-letter path against the nats-server we run (2.9.10 here): a command
// dead-lettered once is settled for good. That server ignores a `+TERM` that carries a reason and
// redelivers the message after the ack wait, which recorded every dead letter again, ack wait after
// ack wait; these tests pin what the server really does, not what the client's docs promise.
import { expect } from "chai";
import { dispositionFor } from "../../actors/fate.ts";
import { CommandConsumer, type CommandHandler } from "../../streams/command-consumer.ts";
import { DeadLetters, type DeadLetter } from "../../streams/dead-letters.ts";
import { ack, deadLetter, nak, type ConsumerFate } from "../../streams/disposition.ts";
import { encode } from "../../streams/envelopes.ts";
import {
  consumerName,
  deleteTopology,
  ensureTopology,
  topology,
  type Topology,
} from "../../streams/topology.ts";
import { commandConsumer, openInfra, type Infra } from "../support/infra.ts";
import { waitFor } from "../support/wait.ts";

const ACK_WAIT_MS = 1_000;
/** The consumer's own failures settled as the worker settles them. */
const fate: ConsumerFate = (failure, delivery) => dispositionFor(failure, delivery);

describe("command consumer: dead letters on the running nats-server", function () {
  this.timeout(20_000);
  let infra: Infra;
  let consumer: CommandConsumer | undefined;

  beforeEach(async () => {
    infra = await openInfra({ partitions: 1, ackWaitMs: ACK_WAIT_MS });
  });
  afterEach(async () => {
    await consumer?.stop();
    consumer = undefined;
    await infra.close();
  });

  it("delivers a dead-lettered command once, lists it once, and leaves nothing pending after the ack wait", async () => {
    const deliveries = new Map<string, number[]>();
    const handler: CommandHandler = (raw, meta) => {
      const name = (raw as { name: string }).name;
      deliveries.set(name, [...(deliveries.get(name) ?? []), meta.deliveryCount]);
      // The poison is dead-lettered; the canary asks to come back after twice the ack wait, so its
      // second delivery is an event that happens only once the poison's ack wait has long passed.
      if (name === "poison")
        return Promise.resolve({ disposition: deadLetter("poison", "cannot be handled") });
      return Promise.resolve({ disposition: meta.deliveryCount === 1 ? nak(2 * ACK_WAIT_MS) : ack });
    };
    const dlq = new DeadLetters(infra.js, infra.jsm, infra.topo);
    consumer = new CommandConsumer(
      infra.nc,
      infra.js,
      infra.jsm,
      infra.topo,
      handler,
      dlq,
      infra.metrics,
      infra.log,
      { fate },
    );
    await consumer.start([0]);

    await infra.js.publish(`${infra.topo.commandBase}.0.pay_poison`, encode({ name: "poison" }));
    await waitFor(async () => (await dlq.count()) === 1, { timeoutMs: 5_000, what: "the dead letter" });
    await infra.js.publish(`${infra.topo.commandBase}.0.pay_canary`, encode({ name: "canary" }));
    await waitFor(() => deliveries.get("canary")?.length === 2, {
      timeoutMs: 10_000,
      what: "the canary's redelivery, two ack waits later",
    });

    expect(deliveries.get("poison"), "deliveries of the dead-lettered command").to.deep.equal([1]);
    expect(await dlq.count(), "dead letters recorded").to.equal(1);
    // Both settled: the canary acknowledged, the poison terminated for good.
    await waitFor(
      async () =>
        (await infra.jsm.consumers.info(infra.topo.commandStream, consumerName(0))).num_ack_pending === 0,
      { timeoutMs: 5_000, what: "nothing pending acknowledgement" },
    );
  });
});

describe("command consumer: its own failures", function () {
  this.timeout(20_000);
  let infra: Infra;
  let consumer: CommandConsumer | undefined;

  beforeEach(async () => {
    infra = await openInfra({ partitions: 1 });
  });
  afterEach(async () => {
    await consumer?.stop();
    consumer = undefined;
    await infra.close();
  });

  it("settles a message whose handler threw as the fate it is given says, deciding nothing itself", async () => {
    const deliveries: number[] = [];
    const handler: CommandHandler = (_raw, meta) => {
      deliveries.push(meta.deliveryCount);
      return Promise.reject(new Error("handler bug"));
    };
    const asked: string[] = [];
    const dlq = new DeadLetters(infra.js, infra.jsm, infra.topo);
    consumer = new CommandConsumer(
      infra.nc,
      infra.js,
      infra.jsm,
      infra.topo,
      handler,
      dlq,
      infra.metrics,
      infra.log,
      {
        // A rule unlike the worker's, so that only the consumer asking it can explain the record.
        fate: (failure, delivery) => {
          asked.push(`${failure.kind}@${delivery.deliveryCount}/${delivery.maxDeliver}`);
          return deadLetter("handler_failed", "the handler threw");
        },
      },
    );
    await consumer.start([0]);
    await infra.js.publish(`${infra.topo.commandBase}.0.pay_bug`, encode({ name: "bug" }));
    await waitFor(async () => (await dlq.count()) === 1, { timeoutMs: 5_000, what: "the dead letter" });
    expect(deliveries).to.deep.equal([1]);
    expect(asked).to.deep.equal([`handler_failed@1/${infra.topo.commandMaxDeliver}`]);
  });
});

describe("command consumer: a dead letter PAY_DLQ refuses on the last delivery", function () {
  this.timeout(30_000);
  let infra: Infra;
  let topo: Topology;
  let consumer: CommandConsumer | undefined;

  beforeEach(async () => {
    infra = await openInfra({ partitions: 1 });
    // A topology of the test's own whose consumer really has max_deliver 1: the first delivery is
    // the last one the server will make.
    topo = topology(`${infra.prefix}m`, 1, { commandMaxDeliver: 1, commandAckWaitMs: 2_000 });
    await ensureTopology(infra.jsm, topo);
  });
  afterEach(async () => {
    await consumer?.stop();
    consumer = undefined;
    await deleteTopology(infra.jsm, topo);
    await infra.close();
  });

  it("holds the command and keeps trying until the record is stored, never dropping it unrecorded", async () => {
    // PAY_DLQ away when the command is dead-lettered.
    await infra.jsm.streams.delete(topo.deadLetterStream);
    let puts = 0;
    const dlq = new (class extends DeadLetters {
      override put(d: DeadLetter): Promise<void> {
        puts++;
        return super.put(d);
      }
    })(infra.js, infra.jsm, topo);
    const handler: CommandHandler = () =>
      Promise.resolve({ disposition: deadLetter("undecodable", "not a command") });
    consumer = new CommandConsumer(
      infra.nc,
      infra.js,
      infra.jsm,
      topo,
      handler,
      dlq,
      infra.metrics,
      infra.log,
      {
        fate,
      },
    );
    await consumer.start([0]);
    await infra.js.publish(`${topo.commandBase}.0.pay_held`, encode({ name: "held" }));
    await waitFor(() => puts >= 2, { timeoutMs: 10_000, what: "a put refused, then tried again" });
    // PAY_DLQ back: the held command's record goes in, and the command is settled.
    await ensureTopology(infra.jsm, topo);
    await waitFor(async () => (await dlq.count()) === 1, {
      timeoutMs: 15_000,
      what: "the dead letter stored",
    });
    await waitFor(
      async () => {
        const info = await infra.jsm.consumers.info(topo.commandStream, consumerName(0));
        return info.num_ack_pending === 0 && info.num_pending === 0;
      },
      { timeoutMs: 5_000, what: "the command settled" },
    );
    expect(
      (await infra.jsm.consumers.info(topo.commandStream, consumerName(0))).delivered.consumer_seq,
    ).to.equal(1);
  });
});

describe("command consumer: what idle partitions cost", function () {
  this.timeout(20_000);
  const PARTITIONS = 8;
  let infra: Infra;
  let consumer: CommandConsumer | undefined;
  let release: (() => void) | undefined;

  beforeEach(async () => {
    infra = await openInfra({ partitions: PARTITIONS });
  });
  afterEach(async () => {
    release?.(); // a failed assertion must not leave the held command blocking stop()
    await consumer?.stop();
    consumer = undefined;
    await infra.close();
  });

  it("asks one stream info per lag round while nothing is stored, and only the partitions holding commands once some are", async () => {
    const handler: CommandHandler = () =>
      new Promise((resolve) => {
        release = () => resolve({ disposition: ack });
      });
    consumer = commandConsumer(infra, handler, { fate, lagEveryMs: 100 });
    const all = [...Array(PARTITIONS).keys()];
    await consumer.start(all);
    const gauge = async (name: "consumerAckPending" | "consumerPending", partition: number) =>
      (await infra.metrics[name].get()).values.find((v) => v.labels.partition === String(partition))?.value;
    await waitFor(async () => (await gauge("consumerPending", PARTITIONS - 1)) === 0, {
      timeoutMs: 5_000,
      what: "the first lag round",
    });

    // A measured window of ~10 rounds: what the connection publishes then is the lag rounds' API
    // requests (the pulls were made at start, and last longer than this).
    const before = infra.nc.stats().outMsgs;
    await new Promise((r) => setTimeout(r, 1_000));
    const published = infra.nc.stats().outMsgs - before;
    // One stream info a round; a consumer info per partition a round would be ~80.
    expect(published, "requests in ~10 idle lag rounds").to.be.within(5, 15);

    // A command held by its handler: stored and unacknowledged, so its partition is asked again.
    await infra.js.publish(`${infra.topo.commandBase}.3.pay_held`, encode({ name: "held" }));
    await waitFor(async () => (await gauge("consumerAckPending", 3)) === 1, {
      timeoutMs: 5_000,
      what: "partition 3's ack-pending gauge at 1",
    });
    // While it is held, a round asks which subjects hold commands and that one partition only.
    const held = infra.nc.stats().outMsgs;
    await new Promise((r) => setTimeout(r, 1_000));
    const heldPublished = infra.nc.stats().outMsgs - held;
    // Three requests a round; a consumer info per partition a round would be ~90.
    expect(heldPublished, "requests in ~10 lag rounds with one command held").to.be.within(10, 40);
    expect(await gauge("consumerAckPending", 2), "partition 2's ack pending").to.equal(0);
    release?.();
    await waitFor(async () => (await gauge("consumerAckPending", 3)) === 0, {
      timeoutMs: 5_000,
      what: "partition 3's ack-pending gauge back at 0",
    });
  });
});
