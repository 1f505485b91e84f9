// Snapshots in Redis: `snap:<id>` → {seq, eventNo, lastHash, schemaVersion, state}. A disposable accelerator:
// a missing, stale, unreadable or foreign-version snapshot only means a longer replay, and a Redis
// outage is logged and counted, never fatal. Writes are compare-and-set on the stream sequence, so
// an older snapshot never overwrites a newer one. The state is opaque here; its owner checks it.
import type { Redis } from "ioredis";
import { z } from "zod";
import type { Logger } from "../config/log.ts";
import type { Metrics } from "../config/metrics.ts";
import { Sha256Hex } from "./envelopes.ts";

const SnapshotSchema = z.object({
  seq: z.number().int().nonnegative(), // PAY_EVT stream sequence of the last event folded in
  eventNo: z.number().int().nonnegative(), // number of events folded in
  // Hash of the stored bytes of the frame at `seq` (streams/chain.ts). Absent in snapshots written
  // before the history was chained: still usable, the hash then comes from the stream.
  lastHash: Sha256Hex.optional(),
  schemaVersion: z.number().int(),
  state: z.unknown(),
});
export type Snapshot = z.infer<typeof SnapshotSchema>;

// KEYS[1] = key, ARGV[1] = seq, ARGV[2] = json, ARGV[3] = ttl seconds
const PUT_IF_NEWER = `
local cur = redis.call('HGET', KEYS[1], 'seq')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'body', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1`;

export class SnapshotStore {
  constructor(
    private readonly redis: Redis,
    private readonly keyOf: (id: string) => string,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    /** Snapshots of another schema version are ignored (replayed from events instead). */
    private readonly schemaVersion: number,
    private readonly ttlSeconds = 7 * 24 * 3600,
  ) {}

  async get(id: string): Promise<Snapshot | undefined> {
    let body: string | null;
    try {
      body = await this.redis.hget(this.keyOf(id), "body");
    } catch (err) {
      this.metrics.snapshotFailures.inc({ op: "read" });
      this.log.warn({ err, paymentId: id }, "snapshot read failed; replaying from JetStream");
      return undefined;
    }
    if (body === null) return undefined;
    try {
      const snap = SnapshotSchema.parse(JSON.parse(body));
      return snap.schemaVersion === this.schemaVersion ? snap : undefined;
    } catch {
      this.metrics.snapshotFailures.inc({ op: "decode" });
      return undefined;
    }
  }

  /** The caller found a snapshot unusable (not of the history it belongs to): counted and logged. */
  rejected(id: string, why: string): void {
    this.metrics.snapshotFailures.inc({ op: "mismatch" });
    this.log.warn({ paymentId: id, why }, "snapshot ignored; replaying from JetStream");
  }

  /** Store unless a snapshot at the same or a later sequence is there. Returns whether it was written. */
  async put(id: string, snap: Omit<Snapshot, "schemaVersion">): Promise<boolean> {
    const body = JSON.stringify({ ...snap, schemaVersion: this.schemaVersion });
    try {
      const r = await this.redis.eval(PUT_IF_NEWER, 1, this.keyOf(id), snap.seq, body, this.ttlSeconds);
      return r === 1;
    } catch (err) {
      this.metrics.snapshotFailures.inc({ op: "write" });
      this.log.warn({ err, paymentId: id }, "snapshot write failed");
      return false;
    }
  }
}
