// The follower (streams/db/follower.ts) against real NATS and PostgreSQL: a frame PostgreSQL refuses
// for its data is set aside — recorded with its SQLSTATE in the transaction that moves the position
// past it — and the frames after it are applied; a statement the database cancels mid-batch (as it
// does when it shuts down or times out) is a failure to retry: that frame is applied, not set aside.
import { expect } from "chai";
import { Follower } from "../../streams/db/follower.ts";
import { listSetAside } from "../../streams/db/set-aside.ts";
import { useFollowerDb } from "../support/follower-db.ts";

describe("a follower sets aside a frame the database refuses, and retries what is not the frame's fault", function () {
  this.timeout(30_000);
  const t = useFollowerDb("create table probe (seq bigint primary key, body text not null)");

  it("records the NUL frame, applies the frames around it, and retries (not sets aside) a cancelled statement", async () => {
    const setAside: Array<[number, string]> = [];
    // Cancelled twice: the batch and, were it taken for the frame's fault, its one-frame retry.
    let cancels = 0;
    const follower = (t.follower = new Follower(
      {
        name: "probe",
        stream: t.infra.topo.eventStream,
        async apply(tx, msgs) {
          for (const m of msgs) {
            const body = Buffer.from(m.data).toString("utf8");
            if (body === "cancelled twice" && cancels < 2) {
              cancels += 1;
              // The database cancelling the batch's statement: a real 57014 (class 57, like 57P01
              // admin shutdown), nothing to do with the frame.
              await tx`set local statement_timeout = 1`;
              await tx`select pg_sleep(0.2)`;
            }
            await tx`insert into probe (seq, body) values (${m.seq}, ${body})`;
          }
        },
      },
      {
        js: t.infra.js,
        sql: t.db.sql,
        log: t.infra.log,
        onSetAside: (_name, seq, code) => setAside.push([seq, code]),
      },
    ));
    await follower.start();
    const subject = `${t.infra.topo.eventBase}.probe`;
    const seqs: number[] = [];
    for (const body of ["first", "a\u0000b", "cancelled twice", "last"])
      seqs.push((await t.infra.js.publish(subject, Buffer.from(body))).seq);
    await follower.caughtUp(seqs.at(-1)!);

    const rows = await t.db.sql<{ seq: number; body: string }[]>`select seq, body from probe order by seq`;
    expect(rows.map((r) => r.body)).to.deep.equal(["first", "cancelled twice", "last"]);
    expect(cancels).to.equal(2);
    expect(setAside).to.deep.equal([[seqs[1], "22021"]]);
    const listed = await listSetAside(t.db.sql, { follower: "probe", limit: 10 });
    expect(listed).to.have.length(1);
    expect(listed[0]).to.include({ seq: seqs[1], subject, code: "22021", stream: t.infra.topo.eventStream });
    expect(listed[0]!.reason).to.match(/invalid byte sequence/);
    const [offset] = await t.db.sql<{ last_seq: number; failing_since: Date | null }[]>`
      select last_seq, failing_since from projection_offsets where name = 'probe'`;
    expect(offset).to.deep.equal({ last_seq: seqs.at(-1), failing_since: null });
  });
});
