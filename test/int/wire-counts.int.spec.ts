// The wire counter of the payment budget (streams/wire-counts.ts) counts exactly what one process's
// clients send, on real NATS, Redis and PostgreSQL: its own traffic only (another connection's
// does not count), and nothing once stopped.
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { expect } from "chai";
import postgres from "postgres";
import { countWire } from "../../streams/wire-counts.ts";
import { DATABASE_URL, openInfra, type Infra } from "../support/infra.ts";

describe("the wire counter", function () {
  let infra: Infra;
  let sql: postgres.Sql;

  before(async () => {
    infra = await openInfra({ partitions: 1 });
    sql = postgres(DATABASE_URL, { max: 1, onnotice: () => undefined });
    // ioredis checks a new connection with INFO once it is up: on a loaded machine that can come
    // after the counting starts (counted as the process's third command), so the count waits for it.
    const { redis } = infra;
    if (redis.status !== "ready") await once(redis, "ready");
  });
  after(async () => {
    await sql?.end({ timeout: 1 });
    await infra?.close();
  });

  it("counts this process's messages, JetStream requests and deliveries, Redis commands and SQL statements, and stops", async () => {
    const { nc, js, jsm, redis, topo } = infra;
    const other = await connect({ servers: nc.getServer() });
    const counter = countWire({ nc, redis, db: { sql } });
    try {
      const id = `pay_${randomBytes(6).toString("hex")}`;
      await js.publish(`${topo.eventBase}.${id}`, "{}"); // 1 out (a request), 1 in (its ack)
      await jsm.streams.info(topo.eventStream); // 1 $JS.API request, 1 reply
      const consumer = await js.consumers.get(topo.eventStream); // ordered: creates a consumer
      const m = await consumer.next({ expires: 2_000 }); // a pull and the delivered frame
      expect(m?.subject).to.equal(`${topo.eventBase}.${id}`);
      await redis.set(`${topo.redisPrefix}wire`, "1");
      await redis.get(`${topo.redisPrefix}wire`);
      await sql`select 1`;
      await sql.begin(async (tx) => void (await tx`select 2`));
      // Another connection's traffic, to the same server, is not this process's.
      await jetstreamManager(other).then((m2) => m2.streams.info(topo.eventStream));

      const c = counter.read();
      const ev = topo.eventStream;
      // The ordered consumer reads the stream's info and creates itself, then pulls once.
      expect(c.nats.jsApiByOp).to.deep.equal({
        [`STREAM.INFO ${ev}`]: 2,
        [`CONSUMER.CREATE ${ev}`]: 1,
        [`CONSUMER.MSG.NEXT ${ev}`]: 1,
      });
      expect(c.nats.jsApi).to.equal(4);
      expect(c.nats.outByKind).to.deep.equal({ [topo.eventBase]: 1, "$JS.API": 4 });
      expect(c.nats.outMsgs).to.equal(5);
      // In: the publish's ack, three API replies, the delivered frame.
      expect(c.nats.inMsgs).to.equal(5);
      expect(c.nats.deliveredByConsumer).to.deep.equal({ [`${ev}/(ephemeral)`]: 1 });
      expect(c.redis).to.deep.equal({ commands: 2, byCommand: { set: 1, get: 1 } });
      // postgres.js looks up array types once on a new connection: a statement like any other.
      expect(c.pg).to.deep.include({ statements: 5, transactions: 1 });
      expect(c.pg.byStatement).to.deep.include({ "select 1": 1, begin: 1, "select 2": 1, commit: 1 });
    } finally {
      counter.stop();
      await other.close();
    }
    const stopped = counter.read();
    await redis.get(`${topo.redisPrefix}wire`);
    await sql`select 3`;
    await jsm.streams.info(topo.eventStream);
    const after = counter.read();
    expect(after.redis.commands).to.equal(stopped.redis.commands);
    expect(after.pg.statements).to.equal(stopped.pg.statements);
    expect(after.nats.jsApi).to.equal(stopped.nats.jsApi);
  });
});
