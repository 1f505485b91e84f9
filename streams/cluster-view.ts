// The cluster as the workers' KV entries say it is (streams/cluster-records.ts): the members bucket
// (who is alive) and the leases bucket (who owns which partition), read and put side by side for
// GET /ops/cluster. Read without the KV iterators (kv-reads.ts says why): the stream's per-subject
// state for the keys, then the last message of each key. A bucket that does not exist yet (no worker
// ever ran with ownership) reads as empty; an entry that does not parse is counted, never thrown.
import type { JetStreamClient, JetStreamManager, StoredMsg, StreamInfo } from "@nats-io/jetstream";
import type { z } from "zod";
import {
  LeaseRecord,
  leasesBucketName,
  MemberRecord,
  membersBucketName,
  partitionOfLeaseKey,
} from "./cluster-records.ts";
import { isStreamNotFound } from "./jetstream-errors.ts";

export type ClusterMember = MemberRecord & {
  revision: number;
  heartbeatAgeMs: number;
  /** How many partitions' leases name this worker (its own `partitions` may differ mid hand-over). */
  owned: number;
};

export type ClusterLease = {
  partition: number;
  owner: string | null;
  acquiredAt: string | null;
  renewedAt: string | null;
  /** Since the lease was last renewed. */
  ageMs: number | null;
  revision: number | null;
};

export type ClusterMap = {
  partitions: number;
  leaseTtlMs: number;
  members: ClusterMember[];
  /** One per partition, 0..partitions-1. */
  leases: ClusterLease[];
  unowned: number[];
  /** Lease owners with no member entry (a worker whose heartbeat stopped before its leases expired). */
  ownersNotMembers: Array<{ workerId: string; partitions: number[] }>;
  lastRebalance: { at: string; workerId: string; gained: number; lost: number } | null;
  /** Entries skipped because they do not parse (or are not where their key says). */
  unreadable: number;
};

type Entry = { key: string; msg: StoredMsg };
type Bucket = { entries: Entry[]; maxAgeMs: number | undefined };

export type ClusterViewOptions = {
  /** The partitions of PAY_CMD (the topology's). */
  partitions: number;
  /** The lease TTL configured (SWITCHYARD_LEASE_TTL_MS); the members bucket's max age wins when it has one. */
  leaseTtlMs: number;
};

export class ClusterView {
  readonly membersBucket: string;
  readonly leasesBucket: string;
  #jsm: JetStreamManager | undefined;

  constructor(
    private readonly js: JetStreamClient,
    prefix: string,
    private readonly opts: ClusterViewOptions,
  ) {
    this.membersBucket = membersBucketName(prefix);
    this.leasesBucket = leasesBucketName(prefix);
  }

  async read(now: number = Date.now()): Promise<ClusterMap> {
    const [members, leases] = await Promise.all([
      this.#readBucket(this.membersBucket),
      this.#readBucket(this.leasesBucket),
    ]);
    return clusterMap({
      members: members.entries,
      leases: leases.entries,
      partitions: this.opts.partitions,
      leaseTtlMs: members.maxAgeMs ?? leases.maxAgeMs ?? this.opts.leaseTtlMs,
      now,
    });
  }

  /** The live (not deleted) entries of a KV bucket, each key's last; none when there is no bucket. */
  async #readBucket(bucket: string): Promise<Bucket> {
    const jsm = (this.#jsm ??= await this.js.jetstreamManager());
    const stream = `KV_${bucket}`;
    const prefix = `$KV.${bucket}.`;
    let info: StreamInfo;
    try {
      info = await jsm.streams.info(stream, { subjects_filter: `${prefix}>` });
    } catch (err) {
      if (isStreamNotFound(err)) return { entries: [], maxAgeMs: undefined };
      throw err;
    }
    const subjects = Object.keys(info.state.subjects ?? {}).sort();
    const last = (subject: string) =>
      info.config.allow_direct
        ? jsm.direct.getMessage(stream, { last_by_subj: subject })
        : jsm.streams.getMessage(stream, { last_by_subj: subject });
    const msgs = await Promise.all(subjects.map((subject) => last(subject).catch(notFoundAsNull)));
    const entries: Entry[] = [];
    for (const [i, msg] of msgs.entries())
      if (msg && !msg.header?.get("KV-Operation"))
        entries.push({ key: subjects[i]!.slice(prefix.length), msg });
    const maxAgeNs = info.config.max_age;
    return { entries, maxAgeMs: maxAgeNs > 0 ? Math.round(maxAgeNs / 1e6) : undefined };
  }
}

/** An entry gone between the listing and the read (expired, purged): read as absent. */
function notFoundAsNull(err: unknown): null {
  if (err instanceof Error && /no message found|not found/i.test(err.message)) return null;
  throw err;
}

function parsed<T>(schema: z.ZodType<T>, msg: StoredMsg): T | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(msg.string());
  } catch {
    return undefined;
  }
  const r = schema.safeParse(raw);
  return r.success ? r.data : undefined;
}

const ageOf = (iso: string, now: number) => Math.max(0, now - Date.parse(iso));

/** The map from the buckets' entries: pure, so the route's answer is a function of what is stored. */
export function clusterMap(input: {
  members: readonly Entry[];
  leases: readonly Entry[];
  partitions: number;
  leaseTtlMs: number;
  now: number;
}): ClusterMap {
  const { partitions, now } = input;
  let unreadable = 0;

  const byPartition = new Map<number, { record: LeaseRecord; revision: number }>();
  for (const { key, msg } of input.leases) {
    const partition = partitionOfLeaseKey(key);
    const record = parsed(LeaseRecord, msg);
    if (partition === undefined || record === undefined) unreadable++;
    // A lease of a partition the topology does not have (fewer partitions configured now): not shown.
    else if (partition < partitions) byPartition.set(partition, { record, revision: msg.seq });
  }
  const leases: ClusterLease[] = [];
  const heldBy = new Map<string, number[]>();
  for (let p = 0; p < partitions; p++) {
    const lease = byPartition.get(p);
    if (!lease) {
      leases.push({
        partition: p,
        owner: null,
        acquiredAt: null,
        renewedAt: null,
        ageMs: null,
        revision: null,
      });
      continue;
    }
    const { record, revision } = lease;
    heldBy.set(record.owner, [...(heldBy.get(record.owner) ?? []), p]);
    leases.push({
      partition: p,
      owner: record.owner,
      acquiredAt: record.acquired_at,
      renewedAt: record.renewed_at,
      ageMs: ageOf(record.renewed_at, now),
      revision,
    });
  }

  const members: ClusterMember[] = [];
  for (const { key, msg } of input.members) {
    const record = parsed(MemberRecord, msg);
    if (record === undefined || record.worker_id !== key) {
      unreadable++;
      continue;
    }
    members.push({
      ...record,
      revision: msg.seq,
      heartbeatAgeMs: ageOf(record.heartbeat_at, now),
      owned: heldBy.get(record.worker_id)?.length ?? 0,
    });
  }
  members.sort((a, b) => a.worker_id.localeCompare(b.worker_id));
  const memberIds = new Set(members.map((m) => m.worker_id));

  let lastRebalance: ClusterMap["lastRebalance"] = null;
  for (const m of members)
    if (
      m.last_rebalance &&
      (!lastRebalance || Date.parse(m.last_rebalance.at) > Date.parse(lastRebalance.at))
    )
      lastRebalance = { workerId: m.worker_id, ...m.last_rebalance };

  return {
    partitions,
    leaseTtlMs: input.leaseTtlMs,
    members,
    leases,
    unowned: leases.filter((l) => l.owner === null).map((l) => l.partition),
    ownersNotMembers: [...heldBy]
      .filter(([owner]) => !memberIds.has(owner))
      .map(([workerId, held]) => ({ workerId, partitions: held }))
      .sort((a, b) => a.workerId.localeCompare(b.workerId)),
    lastRebalance,
    unreadable,
  };
}
