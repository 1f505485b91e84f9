// The gathering transport (streams/nats-transport.ts) on the real nats-server: what one turn of the
// event loop publishes leaves in one write, in order, nothing lost; a large burst is written as it
// grows; a drain writes what is gathered; requests (JetStream publishes) still answer.
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { connect, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connectGathering, gatheredWrites, MAX_GATHERED_BYTES } from "../../streams/nats-transport.ts";
import { connectNats } from "../../streams/connection.ts";
import { NATS_URL, uniquePrefix } from "../support/infra.ts";
import { waitFor } from "../support/wait.ts";
import { pino } from "pino";

describe("NATS writes gathered per turn of the event loop (int)", function () {
  this.timeout(20_000);
  let reader: NatsConnection;
  const opened: NatsConnection[] = [];
  const subject = `${uniquePrefix()}.gather`;

  const received = (n: number) => {
    const got: string[] = [];
    const sub = reader.subscribe(`${subject}.>`, {
      callback: (_err: Error | null, m: Msg) => void got.push(m.string()),
    });
    return {
      got,
      sub,
      all: () => waitFor(() => got.length >= n, { timeoutMs: 5_000, what: `${n} messages` }),
    };
  };

  before(async () => {
    reader = await connect({ servers: NATS_URL });
  });
  after(async () => {
    for (const nc of opened) if (!nc.isClosed()) await nc.close();
    await reader.close();
  });

  it("sends what one turn publishes in one write, in the order published", async () => {
    const nc = await connectGathering({ servers: NATS_URL });
    opened.push(nc);
    const r = received(200);
    await reader.flush();
    await nc.flush();
    const before = gatheredWrites();
    for (let i = 0; i < 200; i++) nc.publish(`${subject}.a`, String(i));
    await r.all();
    // The 200 publishes of one turn: one write (and nothing else was written by it meanwhile).
    expect(gatheredWrites() - before).to.equal(1);
    expect(r.got).to.deep.equal(Array.from({ length: 200 }, (_, i) => String(i)));
    r.sub.unsubscribe();
  });

  it("writes a turn's burst as it passes the bound instead of holding it all", async () => {
    const nc = await connectGathering({ servers: NATS_URL });
    opened.push(nc);
    const body = randomBytes(8 * 1024);
    const n = 40; // 320 KiB in one turn: five times the bound
    const r = received(n);
    await reader.flush();
    await nc.flush();
    const before = gatheredWrites();
    for (let i = 0; i < n; i++) nc.publish(`${subject}.b`, body);
    const during = gatheredWrites() - before;
    await r.all();
    expect(during, "writes made within the turn").to.be.at.least(
      Math.floor((n * body.length) / MAX_GATHERED_BYTES) - 1,
    );
    expect(r.got).to.have.length(n);
    r.sub.unsubscribe();
  });

  it("loses nothing gathered when the connection is drained right after publishing", async () => {
    // (A close() without a flush drops a publish of the same turn with the library's own transport
    // too, gathering or not: the platform's connections drain.)
    const r = received(2);
    await reader.flush();
    for (const word of ["one", "two"]) {
      const nc = await connectGathering({ servers: NATS_URL });
      nc.publish(`${subject}.c`, word);
      await nc.drain();
    }
    await r.all();
    expect(r.got.sort()).to.deep.equal(["one", "two"]);
    r.sub.unsubscribe();
  });

  it("is what the platform's connections use, and JetStream publishes through it answer", async () => {
    const nc = await connectNats(NATS_URL, "gather-test", pino({ level: "silent" }));
    opened.push(nc);
    const jsm = await jetstreamManager(nc);
    const name = `${uniquePrefix()}_GATHER`;
    await jsm.streams.add({ name, subjects: [`${name}.>`] });
    try {
      const js = jetstream(nc);
      const before = gatheredWrites();
      const acks = await Promise.all(
        Array.from({ length: 50 }, (_, i) => js.publish(`${name}.x`, String(i))),
      );
      expect(acks.map((a) => a.seq).sort((x, y) => x - y)).to.deep.equal(
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      // 50 publishes made in one turn went out together (the API's inbox subscription with them).
      expect(gatheredWrites() - before).to.be.within(1, 3);
    } finally {
      await jsm.streams.delete(name);
    }
  });
});
