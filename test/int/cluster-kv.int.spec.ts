// The cluster records against the real nats-server (2.9.10 here): leases taken with create, renewed
// with a compare-and-swap, released with a delete conditioned on the revision, and both buckets
// forgetting an entry not rewritten within the TTL.
import { expect } from "chai";
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ClusterKv, type MemberChange } from "../../streams/cluster.ts";
import type { LeaseRecord, MemberRecord } from "../../streams/cluster-records.ts";
import { NATS_URL, uniquePrefix } from "../support/infra.ts";
import { waitFor } from "../support/wait.ts";

const TTL_MS = 1_500;

const lease = (owner: string): LeaseRecord => {
  const at = new Date().toISOString();
  return { v: 1, owner, acquired_at: at, renewed_at: at };
};
const member = (id: string, partitions: number[] = []): MemberRecord => {
  const at = new Date().toISOString();
  return {
    v: 1,
    worker_id: id,
    host: "test",
    pid: 1,
    started_at: at,
    heartbeat_at: at,
    partitions,
    last_rebalance: null,
  };
};

describe("cluster records in JetStream KV (int)", function () {
  this.timeout(20_000);
  let nc: NatsConnection;
  let kv: ClusterKv;
  const prefix = uniquePrefix();

  before(async () => {
    nc = await connect({ servers: NATS_URL });
    kv = await new ClusterKv(jetstream(nc), prefix, { ttlMs: TTL_MS, replicas: 1 }).ensure();
  });

  after(async () => {
    await kv?.destroy();
    await nc?.close();
  });

  it("gives a free lease to the first taker only, and renews it only at the revision it holds", async () => {
    const rev = await kv.acquire(0, lease("a"));
    expect(rev).to.be.a("number");
    expect(await kv.acquire(0, lease("b")), "taken by a").to.equal(undefined);
    const renewed = await kv.renew(0, lease("a"), rev!);
    expect(renewed).to.be.greaterThan(rev!);
    // A renewal at a revision that is no longer the entry's is refused, unless the entry names the
    // renewer (then it was its own renewal whose answer was lost).
    expect(await kv.renew(0, lease("b"), rev!)).to.equal(undefined);
    expect((await kv.leases()).map((l) => [l.partition, l.record.owner])).to.deep.equal([[0, "a"]]);
  });

  it("takes back its own lease when the answer to its create or renewal was lost", async () => {
    const rev = await kv.acquire(1, lease("a"));
    // A second create by the same owner: the entry names a, so it is a's, rewritten (its time on the
    // server starts again) rather than taken at its old revision.
    const again = await kv.acquire(1, lease("a"));
    expect(again).to.be.greaterThan(rev!);
    expect(await kv.acquire(1, lease("b"))).to.equal(undefined);
    // A renewal at a stale revision (the previous renewal stored, its answer lost) is read back.
    const r2 = await kv.renew(1, lease("a"), again!);
    expect(await kv.renew(1, lease("a"), again!)).to.be.greaterThan(r2!);
  });

  it("releases only at the held revision (delete with previousSeq works on this server)", async () => {
    const rev = await kv.acquire(2, lease("a"));
    const renewed = await kv.renew(2, lease("a"), rev!);
    expect(await kv.release(2, rev!), "a stale revision").to.equal(false);
    expect((await kv.leases()).some((l) => l.partition === 2)).to.equal(true);
    expect(await kv.release(2, renewed!)).to.equal(true);
    expect((await kv.leases()).some((l) => l.partition === 2)).to.equal(false);
    expect(await kv.acquire(2, lease("b")), "free again after the release").to.be.a("number");
  });

  it("forgets a lease and a member not renewed within the TTL, and lets another worker take the lease", async () => {
    await kv.putMember(member("gone", [3]));
    const rev = await kv.acquire(3, lease("gone"));
    expect((await kv.members()).map((m) => m.worker_id)).to.include("gone");
    await waitFor(async () => (await kv.acquire(3, lease("heir"))) !== undefined, {
      timeoutMs: TTL_MS * 4,
      what: "the unrenewed lease to expire and be taken",
    });
    expect((await kv.members()).map((m) => m.worker_id)).not.to.include("gone");
    expect(await kv.renew(3, lease("gone"), rev!), "the dead owner's renewal").to.equal(undefined);
  });

  it("uses buckets made with a longer max age, and refuses ones whose entries would expire before its leases", async () => {
    const js = jetstream(nc);
    const longer = await new ClusterKv(js, prefix, { ttlMs: TTL_MS / 2, replicas: 1 }).ensure();
    expect(await longer.leases()).to.be.an("array");
    let refused: unknown;
    await new ClusterKv(js, prefix, { ttlMs: TTL_MS * 2, replicas: 1 }).ensure().catch((e: unknown) => {
      refused = e;
    });
    expect(String(refused)).to.match(/not this worker's lease TTL/);
  });

  it("tells a watcher about member writes and deletions, and lists live members only", async () => {
    const seen: MemberChange[] = [];
    const sub = kv.watchMembers(nc, (c) => seen.push(c));
    try {
      await nc.flush();
      await kv.putMember(member("w1", [1, 2]));
      await kv.removeMember("w1");
      await waitFor(() => seen.length >= 2, { timeoutMs: 5_000, what: "two member changes" });
      expect(seen[0]).to.deep.include({ workerId: "w1", deleted: false });
      expect(seen[0]!.record?.partitions).to.deep.equal([1, 2]);
      expect(seen[1]).to.deep.include({ workerId: "w1", deleted: true, record: undefined });
      expect((await kv.members()).map((m) => m.worker_id)).not.to.include("w1");
    } finally {
      sub.unsubscribe();
    }
  });
});
