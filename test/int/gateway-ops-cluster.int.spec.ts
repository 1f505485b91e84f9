// GET /ops/cluster against the real KV buckets, written as the workers write them
// (streams/cluster-records.ts): before any worker ran with ownership (no bucket), then members and
// leases with a partition nobody owns, a lease whose owner is no member, entries that do not parse
// and a member that left; who may read it; and its place in the OpenAPI document.
import { randomBytes } from "node:crypto";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { expect } from "chai";
import { leaseKey } from "../../streams/cluster-records.ts";
import { ClusterView } from "../../streams/cluster-view.ts";
import { NATS_URL } from "../support/infra.ts";
import { clusterBuckets, type ClusterBuckets } from "../support/cluster-entries.ts";
import { MERCHANT, OPERATORS, startOpsGateway, type OpsHarness } from "./ops-harness.ts";

const PARTITIONS = 8;
const CONFIGURED_TTL_MS = 7_000;
const BUCKET_TTL_MS = 15_000;
const VIEWER = { name: "vera", key: `op_test_${randomBytes(16).toString("hex")}`, role: "viewer" as const };

type Lease = {
  partition: number;
  owner: string | null;
  acquired_at: string | null;
  renewed_at: string | null;
  age_ms: number | null;
  revision: number | null;
};
type Member = {
  worker_id: string;
  host: string;
  pid: number;
  heartbeat_age_ms: number;
  partitions: number[];
  owned: number;
  last_rebalance: { at: string; gained: number; lost: number } | null;
};
type Cluster = {
  partitions: number;
  lease_ttl_ms: number;
  members: Member[];
  leases: Lease[];
  unowned: number[];
  owners_not_members: Array<{ worker_id: string; partitions: number[] }>;
  last_rebalance: { at: string; worker_id: string; gained: number; lost: number } | null;
  unreadable: number;
};

describe("gateway: GET /ops/cluster over the workers' member and lease buckets", function () {
  this.timeout(20_000);
  let h: OpsHarness;
  let buckets: ClusterBuckets | undefined;

  before(async () => {
    h = await startOpsGateway({
      operatorKeys: [...Object.values(OPERATORS), VIEWER],
      cluster: { partitions: PARTITIONS, leaseTtlMs: CONFIGURED_TTL_MS },
    });
  });
  after(async () => {
    await buckets?.destroy();
    await h?.close();
  });

  const get = async (key?: string | null) => {
    const res = await h.call("GET", "/ops/cluster", key === undefined ? {} : { key });
    return { status: res.status, body: (await res.json()) as Cluster & { error?: { code: string } } };
  };

  it("answers the same shape before any worker ran with ownership: no member, every partition unowned", async () => {
    const { status, body } = await get();
    expect(status).to.equal(200);
    expect(body).to.deep.equal({
      partitions: PARTITIONS,
      lease_ttl_ms: CONFIGURED_TTL_MS,
      members: [],
      leases: Array.from({ length: PARTITIONS }, (_, p) => ({
        partition: p,
        owner: null,
        acquired_at: null,
        renewed_at: null,
        age_ms: null,
        revision: null,
      })),
      unowned: [0, 1, 2, 3, 4, 5, 6, 7],
      owners_not_members: [],
      last_rebalance: null,
      unreadable: 0,
    });
  });

  it("shows each member's partitions and heartbeat age, each lease, the unowned partitions and owners that are not members", async () => {
    buckets = await clusterBuckets(jetstream(h.nc), h.prefix, BUCKET_TTL_MS);
    const older = { at: new Date(Date.now() - 20_000).toISOString(), gained: 4, lost: 0 };
    const newer = { at: new Date(Date.now() - 5_000).toISOString(), gained: 2, lost: 1 };
    await buckets.member("w-a", [0, 1, 2], { heartbeatAgoMs: 3_000, lastRebalance: older });
    // w-b says it holds 3 and 4, but only 3's lease names it (a hand-over under way).
    await buckets.member("w-b", [3, 4], { heartbeatAgoMs: 500, lastRebalance: newer });
    const revisions = new Map<number, number>();
    for (const p of [0, 1, 2]) revisions.set(p, await buckets.lease(p, "w-a", { renewedAgoMs: 1_000 }));
    revisions.set(3, await buckets.lease(3, "w-b", { renewedAgoMs: 2_000, acquiredAgoMs: 9_000 }));
    // w-gone stopped heartbeating; its lease has not expired yet.
    revisions.set(5, await buckets.lease(5, "w-gone", { renewedAgoMs: 6_000 }));
    // A renewal: compare-and-swap on the revision, as the owner does.
    const renewedFrom = revisions.get(0)!;
    const entry = await buckets.leases.get(leaseKey(0));
    revisions.set(0, await buckets.leases.update(leaseKey(0), entry!.string(), renewedFrom));

    const { status, body } = await get();
    expect(status).to.equal(200);
    expect(body.partitions).to.equal(PARTITIONS);
    expect(body.lease_ttl_ms, "the bucket's max age, not the configured TTL").to.equal(BUCKET_TTL_MS);
    expect(body.unreadable).to.equal(0);
    expect(body.members.map((m) => [m.worker_id, m.partitions, m.owned])).to.deep.equal([
      ["w-a", [0, 1, 2], 3],
      ["w-b", [3, 4], 1],
    ]);
    const [a, b] = body.members as [Member, Member];
    expect(a).to.include({ host: "test-host", pid: 4242 });
    expect(a.heartbeat_age_ms).to.be.within(3_000, 8_000);
    expect(b.heartbeat_age_ms).to.be.within(500, 5_500);
    expect(a.last_rebalance).to.deep.equal(older);
    expect(body.last_rebalance).to.deep.equal({ ...newer, worker_id: "w-b" });

    expect(body.leases.map((l) => l.owner)).to.deep.equal([
      "w-a",
      "w-a",
      "w-a",
      "w-b",
      null,
      "w-gone",
      null,
      null,
    ]);
    for (const l of body.leases)
      expect(l.revision, `partition ${l.partition}`).to.equal(revisions.get(l.partition) ?? null);
    expect(revisions.get(0)).to.be.greaterThan(renewedFrom);
    const lease3 = body.leases[3]!;
    expect(lease3.age_ms).to.be.within(2_000, 7_000);
    expect(Date.parse(lease3.renewed_at!) - Date.parse(lease3.acquired_at!)).to.be.within(6_900, 7_100);
    expect(body.unowned).to.deep.equal([4, 6, 7]);
    expect(body.owners_not_members).to.deep.equal([{ worker_id: "w-gone", partitions: [5] }]);
  });

  it("skips and counts entries that do not parse, and leaves out a member that left", async () => {
    await buckets!.members.put("w-broken", "{not json");
    // A record whose worker id is not its key, and a lease key that names no partition.
    await buckets!.members.put("w-c", JSON.stringify({ v: 1, worker_id: "w-d" }));
    await buckets!.leases.put("garbage", JSON.stringify({ v: 1, owner: "w-a" }));
    // Partition 6's lease in an unknown version of the format: unreadable, so 6 stays unowned.
    await buckets!.leases.put(leaseKey(6), JSON.stringify({ v: 2, owner: "w-a" }));
    // A lease of a partition the topology no longer has (fewer configured now): not shown, not unreadable.
    await buckets!.lease(PARTITIONS + 1, "w-a");
    // A worker that stopped cleanly deletes its entry: gone from the map, not unreadable.
    await buckets!.member("w-left", [], {});
    await buckets!.members.delete("w-left");

    const { status, body } = await get();
    expect(status).to.equal(200);
    expect(body.unreadable).to.equal(4);
    expect(body.members.map((m) => m.worker_id)).to.deep.equal(["w-a", "w-b"]);
    expect(body.unowned).to.deep.equal([4, 6, 7]);
    expect(body.leases.map((l) => l.partition)).to.deep.equal([...Array(PARTITIONS).keys()]);
    expect(body.members.find((m) => m.worker_id === "w-a")?.owned).to.equal(3);
  });

  it("lets a viewer read it, and refuses a missing key, a stranger's and a merchant's", async () => {
    expect((await get(VIEWER.key)).status).to.equal(200);
    const none = await get(null);
    expect([none.status, none.body.error?.code]).to.deep.equal([401, "unauthorized"]);
    const stranger = await get(`op_test_${randomBytes(16).toString("hex")}`);
    expect([stranger.status, stranger.body.error?.code]).to.deep.equal([401, "unauthorized"]);
    const merchant = await get(MERCHANT.key);
    expect([merchant.status, merchant.body.error?.code]).to.deep.equal([403, "forbidden"]);
  });

  it("answers 503 service_unavailable, not 500, when NATS cannot be reached", async () => {
    const nc = await connect({ servers: NATS_URL });
    const view = new ClusterView(jetstream(nc), h.prefix, { partitions: PARTITIONS, leaseTtlMs: 10_000 });
    await nc.close();
    const cut = await startOpsGateway({ cluster: view });
    try {
      const res = await cut.call("GET", "/ops/cluster");
      const body = (await res.json()) as { error: { code: string } };
      expect([res.status, body.error.code]).to.deep.equal([503, "service_unavailable"]);
      expect(cut.logs.some((l) => l.includes("cluster read failed"))).to.equal(true);
    } finally {
      await cut.close();
    }
  });

  it("is in the OpenAPI document, for operators, with its answer's schema", async () => {
    type Doc = {
      paths: Record<
        string,
        Record<string, { tags?: string[]; security?: unknown[]; responses: Record<string, unknown> }>
      >;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    const doc = (await (await fetch(`${h.url}/openapi.json`)).json()) as Doc;
    const op = doc.paths["/ops/cluster"]?.get;
    expect(op?.tags).to.deep.equal(["operators"]);
    expect(op?.security).to.deep.equal([{ operatorKey: [] }]);
    expect(op?.responses).to.include.keys("200", "401", "403", "503");
    expect(doc.components.schemas.Cluster?.properties).to.include.keys(
      "members",
      "leases",
      "unowned",
      "owners_not_members",
      "last_rebalance",
      "unreadable",
    );
  });
});
