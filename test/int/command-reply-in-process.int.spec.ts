// A worker answering a command whose bus is in its own process (`npm start`, the embedded platform)
// hands the reply over in memory (replyInProcess, streams/command-bus.ts); one answering a bus of
// another process, or an internal client's inbox, publishes it on NATS as before. Real NATS: a spy
// connection subscribed to every reply subject sees what went over the wire.
import { expect } from "chai";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { CommandBus } from "../../streams/command-bus.ts";
import type { CommandConsumer, CommandHandler } from "../../streams/command-consumer.ts";
import { ack } from "../../streams/disposition.ts";
import { Header, decodeJson, encode } from "../../streams/envelopes.ts";
import { commandSubject, replyInbox } from "../../streams/topology.ts";
import { NATS_URL, commandConsumer, openInfra, type Infra } from "../support/infra.ts";
import { waitFor } from "../support/wait.ts";

describe("command replies: in memory within a process, on NATS across processes", function () {
  this.timeout(20_000);
  let infra: Infra;
  let consumer: CommandConsumer;
  let bus: CommandBus;
  let spy: NatsConnection;
  const seen: string[] = [];

  beforeEach(async () => {
    infra = await openInfra({ partitions: 1 });
    const handler: CommandHandler = (raw) =>
      Promise.resolve({ disposition: ack, reply: { kind: "settled", echo: (raw as { n: number }).n } });
    consumer = commandConsumer(infra, handler);
    await consumer.start([0]);
    bus = new CommandBus(infra.nc, infra.js, infra.topo, infra.log);
    bus.start();
    spy = await connect({ servers: NATS_URL });
    seen.length = 0;
    spy.subscribe(`${infra.topo.replyBase}.>`, { callback: (_e, m) => void seen.push(m.subject) });
    await spy.flush();
  });
  afterEach(async () => {
    await bus.close();
    await consumer.stop();
    await spy.close();
    await infra.close();
  });

  /** Publishes a marker on the worker's connection and waits for the spy to see it: NATS keeps a
   * connection's order, so a reply the worker had published would have reached the spy before it. */
  async function afterWorkerWrites(): Promise<string[]> {
    const marker = `${replyInbox(infra.topo, undefined, "marker")}.${Date.now()}`;
    infra.nc.publish(marker, encode({}));
    await waitFor(() => seen.includes(marker), { timeoutMs: 5_000, what: "the marker" });
    return seen.filter((s) => s !== marker);
  }

  it("answers this process's bus without a NATS message", async () => {
    const reply = await bus.send(
      { paymentId: "pay_local1", merchantId: "m_a" },
      { n: 1 },
      {
        waitMs: 5_000,
        msgId: "local-1",
      },
    );
    expect(reply).to.deep.equal({ kind: "settled", echo: 1 });
    expect(await afterWorkerWrites(), "replies seen on NATS").to.deep.equal([]);
  });

  it("answers an inbox of another process on NATS, with the same bytes", async () => {
    // What a gateway in another process looks like from here: an inbox no bus of this process holds.
    const inbox = `${replyInbox(infra.topo, undefined, "elsewhere")}.1`;
    const got = new Promise<unknown>((resolve) => {
      spy.subscribe(inbox, { max: 1, callback: (_e, m) => resolve(decodeJson(m.data)) });
    });
    await spy.flush();
    const h = headers();
    h.set(Header.replyTo, inbox);
    await infra.js.publish(commandSubject(infra.topo, "m_a", "pay_remote1"), encode({ n: 2 }), {
      headers: h,
    });
    expect(await got).to.deep.equal({ kind: "settled", echo: 2 });
    expect(await afterWorkerWrites()).to.deep.equal([inbox]);
  });

  it("answers over NATS again once the bus is closed (a late reply is dropped, not delivered to it)", async () => {
    await bus.close();
    const reply = await new CommandBus(infra.nc, infra.js, infra.topo, infra.log).send(
      { paymentId: "pay_closed1", merchantId: "m_a" },
      { n: 3 },
      { waitMs: 300, msgId: "closed-1" },
    );
    // The new bus was never started: nothing of this process listens on its inbox, in memory or on
    // NATS, so the wait runs out (null) and the worker's reply goes to NATS, where the spy sees it.
    expect(reply).to.equal(null);
    await waitFor(() => seen.length === 1, { timeoutMs: 5_000, what: "the reply on NATS" });
    bus = new CommandBus(infra.nc, infra.js, infra.topo, infra.log); // for afterEach
  });
});
