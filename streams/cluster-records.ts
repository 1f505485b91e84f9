// What the workers of a deployment say about themselves and their partitions, in two JetStream KV
// buckets: who is alive (a member entry per worker, renewed on a heartbeat) and who owns which
// partition of PAY_CMD (a lease entry per partition, taken with create and renewed with a
// compare-and-swap on its revision). Both buckets have a max age (the TTL): an entry not renewed in
// time is gone, so a dead worker leaves both by itself. The worker writes them
// (streams/cluster-*.ts); the gateway's GET /ops/cluster reads them. Nothing else does.
import { z } from "zod";

/** `<prefix>_CLUSTER_MEMBERS` (or `CLUSTER_MEMBERS` with no prefix). Key: the worker id. */
export function membersBucketName(prefix: string): string {
  return prefix ? `${prefix}_CLUSTER_MEMBERS` : "CLUSTER_MEMBERS";
}

/** `<prefix>_CLUSTER_LEASES` (or `CLUSTER_LEASES`). Key: `leaseKey(partition)`. */
export function leasesBucketName(prefix: string): string {
  return prefix ? `${prefix}_CLUSTER_LEASES` : "CLUSTER_LEASES";
}

/** `p007` for partition 7: a KV key (letters, digits, `-_=.` only), sorted as the partitions are. */
export function leaseKey(partition: number): string {
  return `p${String(partition).padStart(3, "0")}`;
}

/** The partition a lease key names, or undefined for a key that is not one. */
export function partitionOfLeaseKey(key: string): number | undefined {
  const m = /^p(\d{3,})$/.exec(key);
  return m ? Number(m[1]) : undefined;
}

/** A worker id usable as a KV key: letters, digits, `-`, `_`, `=`, `.`; at most 64 characters. */
export const WorkerId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_=-][A-Za-z0-9_=.-]*$/);

/** A member entry: written by the worker at start and on every heartbeat. */
export const MemberRecord = z.object({
  v: z.literal(1),
  worker_id: WorkerId,
  host: z.string().max(255),
  pid: z.number().int().nonnegative(),
  started_at: z.iso.datetime(),
  heartbeat_at: z.iso.datetime(),
  /** The partitions this worker holds by lease right now (sorted). */
  partitions: z.array(z.number().int().nonnegative()),
  /** The last time this worker's set of partitions changed, and by how many partitions. */
  last_rebalance: z
    .object({
      at: z.iso.datetime(),
      gained: z.number().int().nonnegative(),
      lost: z.number().int().nonnegative(),
    })
    .nullable(),
});
export type MemberRecord = z.infer<typeof MemberRecord>;

/** A lease entry: who owns the partition, since when, last renewed when. */
export const LeaseRecord = z.object({
  v: z.literal(1),
  owner: WorkerId,
  acquired_at: z.iso.datetime(),
  renewed_at: z.iso.datetime(),
});
export type LeaseRecord = z.infer<typeof LeaseRecord>;
