// The worker's side of the cluster records (streams/cluster-records.ts): its member entry, renewed on
// a heartbeat, and its partition leases, taken with a create and renewed with a compare-and-swap on
// the revision. Both buckets have max_age = the TTL (nats-server 2.9 has no per-key TTL): an entry
// not rewritten within the TTL is gone, which is how a dead worker leaves. The rules about which
// partitions to take live in actors/cluster; this module only reads and writes the entries.
import type { JetStreamClient } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { decodeJson } from "./envelopes.ts";
import { isWrongLastSequence } from "./jetstream-errors.ts";
import { kvKeys } from "./kv-reads.ts";
import { openBucket } from "./kv-open.ts";
import {
  LeaseRecord,
  MemberRecord,
  leaseKey,
  leasesBucketName,
  membersBucketName,
  partitionOfLeaseKey,
} from "./cluster-records.ts";

export type ClusterKvOptions = { ttlMs: number; replicas: number };

/** A lease entry as read: who holds it, at which revision. */
export type LeaseEntry = { partition: number; revision: number; record: LeaseRecord };

/** What a member write on the bus says, for a watcher deciding whether to look again. */
export type MemberChange = { workerId: string; deleted: boolean; record: MemberRecord | undefined };

export class ClusterKv {
  readonly membersBucket: string;
  readonly leasesBucket: string;
  #members: KV | undefined;
  #leases: KV | undefined;

  constructor(
    private readonly js: JetStreamClient,
    prefix: string,
    readonly opts: ClusterKvOptions,
  ) {
    this.membersBucket = membersBucketName(prefix);
    this.leasesBucket = leasesBucketName(prefix);
  }

  /**
   * Creates both buckets if needed (idempotent, and safe from several workers at once). A bucket
   * made with other settings is used as it is, unless its max age is not at least this worker's TTL.
   */
  async ensure(): Promise<this> {
    const open = async (name: string): Promise<KV> => {
      // Opens the bucket as it is when it exists (the client does not compare settings); several
      // workers starting at once on a cluster race for it as every role does (streams/kv-open.ts).
      const kv = await openBucket(this.js, name, {
        history: 1,
        ttl: this.opts.ttlMs,
        replicas: this.opts.replicas,
      });
      const ttl = (await kv.status()).ttl;
      // Shorter: a lease would vanish on the server while its owner still counts on it. None: a dead
      // worker's leases would never go.
      if (ttl === 0 || ttl < this.opts.ttlMs)
        throw new Error(
          `KV bucket ${name} expires entries after ${ttl || "no"} ms, not this worker's lease TTL (${this.opts.ttlMs} ms) or more: give every worker the same SWITCHYARD_LEASE_TTL_MS`,
        );
      return kv;
    };
    [this.#members, this.#leases] = await Promise.all([open(this.membersBucket), open(this.leasesBucket)]);
    return this;
  }

  /** Removes both buckets (tests). */
  async destroy(): Promise<void> {
    await Promise.all([this.#m().destroy(), this.#l().destroy()]);
  }

  async putMember(record: MemberRecord): Promise<void> {
    await this.#m().put(record.worker_id, JSON.stringify(MemberRecord.parse(record)));
  }

  async removeMember(workerId: string): Promise<void> {
    await this.#m().delete(workerId);
  }

  /** The members whose entry is live (written within the TTL and not deleted), sorted by id. */
  async members(): Promise<MemberRecord[]> {
    const kv = this.#m();
    const keys = await kvKeys(this.js, this.membersBucket, ">");
    const entries = await Promise.all(keys.map((k) => kv.get(k)));
    const out: MemberRecord[] = [];
    for (const e of entries) {
      if (e?.operation !== "PUT") continue;
      const parsed = MemberRecord.safeParse(e.json());
      if (parsed.success) out.push(parsed.data);
    }
    return out.sort((a, b) => a.worker_id.localeCompare(b.worker_id));
  }

  /**
   * Calls `onChange` for every member write seen on the bus: a plain subscription to the bucket's
   * subjects (no consumer, nothing stored, nothing sent while nobody writes). A write the server
   * then refuses is seen too: the watcher only uses it as a cue to look again.
   */
  watchMembers(nc: NatsConnection, onChange: (c: MemberChange) => void): Subscription {
    const prefix = `$KV.${this.membersBucket}.`;
    return nc.subscribe(`${prefix}>`, {
      callback: (err, msg) => {
        if (err) return;
        const op = msg.headers?.get("KV-Operation");
        let record: MemberRecord | undefined;
        if (!op) {
          const parsed = MemberRecord.safeParse(safeJson(msg.data));
          record = parsed.success ? parsed.data : undefined;
        }
        onChange({ workerId: msg.subject.slice(prefix.length), deleted: Boolean(op), record });
      },
    });
  }

  /**
   * Takes the lease of `partition` if nobody holds it (never written, deleted, or expired): its
   * revision, or undefined when someone does. An entry already naming this owner (a create whose
   * answer was lost, or a lease the owner gave up by its own clock and nobody took since) is
   * rewritten at its revision, so that its time on the server starts now, as the caller's does.
   */
  async acquire(partition: number, record: LeaseRecord): Promise<number | undefined> {
    const key = leaseKey(partition);
    const body = JSON.stringify(LeaseRecord.parse(record));
    try {
      return await this.#l().create(key, body);
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err;
    }
    const mine = await this.#ownRevision(partition, record.owner);
    if (mine === undefined) return undefined;
    try {
      return await this.#l().update(key, body, mine);
    } catch (err) {
      if (isWrongLastSequence(err)) return undefined;
      throw err;
    }
  }

  /**
   * Renews a held lease at `revision`: the new revision, or undefined when the entry is no longer
   * that revision and not ours (expired and taken, or deleted). A renewal whose answer was lost
   * leaves the entry one revision ahead of us, still naming us: it is read back and renewed again.
   */
  async renew(partition: number, record: LeaseRecord, revision: number): Promise<number | undefined> {
    const key = leaseKey(partition);
    const body = JSON.stringify(LeaseRecord.parse(record));
    try {
      return await this.#l().update(key, body, revision);
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err;
      const now = await this.#ownRevision(partition, record.owner);
      if (now === undefined) return undefined;
      try {
        return await this.#l().update(key, body, now);
      } catch (again) {
        if (isWrongLastSequence(again)) return undefined;
        throw again;
      }
    }
  }

  /** Gives a lease up: deleted only if still at `revision` (false when it was not: not ours then). */
  async release(partition: number, revision: number): Promise<boolean> {
    try {
      await this.#l().delete(leaseKey(partition), { previousSeq: revision });
      return true;
    } catch (err) {
      if (isWrongLastSequence(err)) return false;
      throw err;
    }
  }

  /** Every live lease, by partition. */
  async leases(): Promise<LeaseEntry[]> {
    const kv = this.#l();
    const keys = await kvKeys(this.js, this.leasesBucket, ">");
    const entries = await Promise.all(keys.map((k) => kv.get(k)));
    const out: LeaseEntry[] = [];
    for (const e of entries) {
      if (e?.operation !== "PUT") continue;
      const partition = partitionOfLeaseKey(e.key);
      const parsed = LeaseRecord.safeParse(e.json());
      if (partition !== undefined && parsed.success)
        out.push({ partition, revision: e.revision, record: parsed.data });
    }
    return out.sort((a, b) => a.partition - b.partition);
  }

  /** The revision of the partition's lease if it is live and names `owner`. */
  async #ownRevision(partition: number, owner: string): Promise<number | undefined> {
    const e = await this.#l().get(leaseKey(partition));
    if (e?.operation !== "PUT") return undefined;
    const parsed = LeaseRecord.safeParse(e.json());
    return parsed.success && parsed.data.owner === owner ? e.revision : undefined;
  }

  #m(): KV {
    if (!this.#members) throw new Error("ClusterKv used before ensure()");
    return this.#members;
  }

  #l(): KV {
    if (!this.#leases) throw new Error("ClusterKv used before ensure()");
    return this.#leases;
  }
}

function safeJson(data: Uint8Array): unknown {
  try {
    return decodeJson(data);
  } catch {
    return undefined;
  }
}
