// The command consumer's dead-letter path against the nats-server we run (2.9.10 here): a command
// dead-lettered once is settled for good. That server ignores a `+TERM` that carries a reason and
// redelivers the message after the ack wait, which recorded every dead letter again, ack wait after
// ack wait; these tests pin what the server really does, not what the client's docs promise.
import { expect } from "chai";
import { CommandConsumer, type CommandHandler } from "../../streams/command-consumer.ts";
import { DeadLetters } from "../../streams/dead-letters.ts";
import { ack, deadLetter, nak } from "../../streams/disposition.ts";
import { encode } from "../../streams/envelopes.ts";
import { consumerName } from "../../streams/topology.ts";
import { openInfra, type Infra } from "../support/infra.ts";
import { waitFor } from "../support/wait.ts";

const ACK_WAIT_MS = 1_000;

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
