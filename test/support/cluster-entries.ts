// Member and lease entries written into a prefix's cluster buckets as the workers write them
// (streams/cluster-records.ts: kv.create for a new lease or member, kv.put to renew), so GET
// /ops/cluster can be checked against what is stored without running workers.
import type { JetStreamClient } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import {
  LeaseRecord,
  leaseKey,
  leasesBucketName,
  MemberRecord,
  membersBucketName,
} from "../../streams/cluster-records.ts";

export type ClusterBuckets = {
  members: KV;
  leases: KV;
  /** Writes a member entry (validated against MemberRecord first); returns its revision. */
  member(
    workerId: string,
    partitions: number[],
    o?: { heartbeatAgoMs?: number; lastRebalance?: MemberRecord["last_rebalance"] },
  ): Promise<number>;
  /** Takes the partition's lease for `owner` with kv.create; returns its revision. */
  lease(
    partition: number,
    owner: string,
    o?: { renewedAgoMs?: number; acquiredAgoMs?: number },
  ): Promise<number>;
  destroy(): Promise<void>;
};

const iso = (agoMs: number) => new Date(Date.now() - agoMs).toISOString();

export async function clusterBuckets(
  js: JetStreamClient,
  prefix: string,
  ttlMs: number,
): Promise<ClusterBuckets> {
  const kvm = new Kvm(js);
  const members = await kvm.create(membersBucketName(prefix), { history: 1, ttl: ttlMs });
  const leases = await kvm.create(leasesBucketName(prefix), { history: 1, ttl: ttlMs });
  return {
    members,
    leases,
    async member(workerId, partitions, o = {}) {
      const record = MemberRecord.parse({
        v: 1,
        worker_id: workerId,
        host: "test-host",
        pid: 4242,
        started_at: iso(60_000),
        heartbeat_at: iso(o.heartbeatAgoMs ?? 0),
        partitions,
        last_rebalance: o.lastRebalance ?? null,
      });
      return members.create(workerId, JSON.stringify(record));
    },
    async lease(partition, owner, o = {}) {
      const record = LeaseRecord.parse({
        v: 1,
        owner,
        acquired_at: iso(o.acquiredAgoMs ?? 30_000),
        renewed_at: iso(o.renewedAgoMs ?? 0),
      });
      return leases.create(leaseKey(partition), JSON.stringify(record));
    },
    async destroy() {
      await members.destroy();
      await leases.destroy();
    },
  };
}
