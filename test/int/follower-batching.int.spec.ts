// How the follower (streams/db/follower.ts) cuts batches, against real NATS and PostgreSQL: messages
// arriving less than its linger apart, without pause, are still applied in batches no older than
// maxBatchMs. Before that bound, one client's steady payments kept a single batch open until it held
// 500 frames (about 1.7 s behind in the read model the whole time); and every batch moves the
// position in the same transaction as its rows.
import { expect } from "chai";
import { Follower } from "../../streams/db/follower.ts";
import type { FrameSource } from "../../streams/event-tap.ts";
import { useFollowerDb } from "../support/follower-db.ts";

describe("a follower's batches stay young while messages keep coming (int)", function () {
  this.timeout(30_000);
  const t = useFollowerDb("create table probe (seq bigint primary key, batch int not null)");

  it("applies a steady trickle in several batches, each within maxBatchMs of its first message, the position with each", async () => {
    const sentAt = new Map<number, number>();
    const batches: Array<{ first: number; size: number; openMs: number }> = [];
    const follower = (t.follower = new Follower(
      {
        name: "probe",
        stream: t.infra.topo.eventStream,
        lingerMs: 50,
        maxBatchMs: 120,
        async apply(tx, msgs) {
          const first = msgs[0]!.seq;
          // How long the batch was open: from its first message's publish to its apply.
          batches.push({ first, size: msgs.length, openMs: Date.now() - (sentAt.get(first) ?? 0) });
          const rows = msgs.map((m) => ({ seq: m.seq, batch: first }));
          await tx`insert into probe ${tx(rows)}`;
        },
      },
      { js: t.infra.js, sql: t.db.sql, log: t.infra.log },
    ));
    await follower.start();
    const subject = `${t.infra.topo.eventBase}.probe`;
    // 60 messages, one every ~10 ms: always within the 50 ms linger of the one before, for ~600 ms.
    let last = 0;
    for (let i = 0; i < 60; i++) {
      const at = Date.now();
      last = (await t.infra.js.publish(subject, Buffer.from(`m${i}`))).seq;
      sentAt.set(last, at);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await follower.caughtUp(last);

    expect(batches.length, JSON.stringify(batches)).to.be.at.least(3);
    // Generous for a loaded machine; the unbounded batch was open for the whole ~600 ms.
    for (const b of batches) expect(b.openMs, JSON.stringify(b)).to.be.below(400);
    const [{ n } = { n: 0 }] = await t.db.sql<{ n: number }[]>`select count(*)::int as n from probe`;
    expect(n).to.equal(60);
    const [offset] = await t.db.sql<{ last_seq: number }[]>`
      select last_seq from projection_offsets where name = 'probe'`;
    expect(offset?.last_seq).to.equal(last);
  });
});

describe("a follower applies a batch by its deadline when the source stalls with more pending (int)", function () {
  this.timeout(30_000);
  const t = useFollowerDb("create table probe_stalled (seq bigint primary key)");

  it("applies what came, though the last message said more were pending and none followed", async () => {
    // The source hands out three frames, each saying more are pending, then nothing until closed:
    // what a consumer that stalls after a stream's leader died does. The batch used to stay open
    // until a fourth message came, holding those payments out of the read model.
    let closed!: () => void;
    const ended = new Promise<void>((resolve) => (closed = resolve));
    const source: FrameSource = {
      open: (from) =>
        Promise.resolve({
          async *[Symbol.asyncIterator]() {
            for (let seq = from; seq < from + 3; seq++)
              yield {
                msg: { seq, subject: "probe", data: Buffer.from(`m${seq}`), time: new Date() },
                pending: 5,
              };
            await ended;
          },
          close: () => {
            closed();
            return Promise.resolve();
          },
        }),
    };
    const applied: number[][] = [];
    const follower = (t.follower = new Follower(
      {
        name: "probe_stalled",
        stream: t.infra.topo.eventStream,
        source,
        maxBatchMs: 100,
        async apply(tx, msgs) {
          applied.push(msgs.map((m) => m.seq));
          await tx`insert into probe_stalled ${tx(msgs.map((m) => ({ seq: m.seq })))}`;
        },
      },
      { js: t.infra.js, sql: t.db.sql, log: t.infra.log },
    ));
    const t0 = Date.now();
    await follower.start();
    await follower.caughtUp(3);
    expect(applied).to.deep.equal([[1, 2, 3]]);
    // Its deadline (100 ms), generous for a loaded machine; without it, never.
    expect(Date.now() - t0).to.be.below(5_000);
    const [offset] = await t.db.sql<{ last_seq: number }[]>`
      select last_seq from projection_offsets where name = 'probe_stalled'`;
    expect(offset?.last_seq).to.equal(3);
  });
});
