// Which PAY_CMD partitions this worker consumes: those it holds by lease (streams/cluster.ts), and it
// tries to hold those rendezvous hashing gives it among the live members (actors/cluster/core). A
// round: renew every held lease in one burst and write the member entry (every third of the TTL),
// then read the members, and release what is no longer ours (stop taking its commands, let those in
// flight settle, then delete the lease at its revision) and take what is ours and free (create). A
// lease another live worker holds is waited for: it releases it (its member entry changes, which
// starts a round here at once) or it dies and the lease expires (seen by the next timed round). A
// lease is ours only while less than the TTL has passed since its last renewal was sent, on the
// monotonic clock: a worker paused past it (GC, SIGSTOP) or cut off from NATS finds it lost when it
// runs again, before the server lets anyone else take it, and stops the partition.
import { performance } from "node:perf_hooks";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Logger } from "../config/log.ts";
import type { Metrics } from "../config/metrics.ts";
import type { ClusterKv, MemberChange } from "../streams/cluster.ts";
import type { LeaseRecord, MemberRecord } from "../streams/cluster-records.ts";
import { leaseStands, plan } from "./cluster/core/plan.ts";
import { targetOf } from "./cluster/core/rendezvous.ts";

/** What ownership needs of the command consumer. */
export type PartitionConsumer = {
  startPartition(p: number): Promise<void>;
  /** Resolves once the partition's in-flight commands are settled. */
  stopPartition(p: number): Promise<void>;
};

export type OwnershipOptions = {
  kv: ClusterKv;
  nc: NatsConnection;
  workerId: string;
  host: string;
  pid: number;
  partitions: number;
  ttlMs: number;
  consumer: PartitionConsumer;
  metrics: Metrics;
  log: Logger;
  /** A monotonic clock in ms (performance.now); tests may pass their own. */
  clock?: () => number;
};

/** How long after a member's entries should have expired the round that notices it runs. */
const EXPIRY_MARGIN_MS = 250;

export const LeaseLoss = { expired: "expired", refused: "refused" } as const;
export type LeaseLoss = (typeof LeaseLoss)[keyof typeof LeaseLoss];

type Lease = {
  revision: number;
  /** Monotonic time the last successful renewal (or the create) was sent. */
  renewedAt: number;
  acquiredAt: string;
  releasing: boolean;
};

export class Ownership {
  readonly #o: OwnershipOptions;
  readonly #clock: () => number;
  readonly #held = new Map<number, Lease>();
  readonly #startedAt = new Date().toISOString();
  #lastRebalance: MemberRecord["last_rebalance"] = null;
  /** Other members' partitions as last seen on the bus, to tell a change from a heartbeat. */
  readonly #seen = new Map<string, string>();
  /** Per other member, the round due when its entries expire if it writes nothing more. */
  readonly #silence = new Map<string, NodeJS.Timeout>();
  readonly #background = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #sub: Subscription | undefined;
  #running: Promise<void> | undefined;
  #renewing: Promise<void> | undefined;
  #again = false;
  #wantFull = false;
  #stopped = false;

  constructor(o: OwnershipOptions) {
    this.#o = o;
    this.#clock = o.clock ?? (() => performance.now());
  }

  /** Whether this worker holds `partition`'s lease right now, by its own clock (cheap, local). */
  holds(partition: number): boolean {
    const l = this.#held.get(partition);
    return l !== undefined && leaseStands(l.renewedAt, this.#clock(), this.#o.ttlMs);
  }

  /** The partitions held (sorted), being released included. */
  owned(): number[] {
    return [...this.#held.keys()].sort((a, b) => a - b);
  }

  /**
   * Joins: writes the member entry, takes the partitions that are ours and free (all of them for a
   * worker alone), then keeps the leases renewed and follows the members.
   */
  async start(): Promise<void> {
    const o = this.#o;
    o.metrics.partitionsConfigured.set(o.partitions);
    o.metrics.partitionsOwned.set({ worker: o.workerId }, 0);
    await this.#heartbeat();
    this.#sub = o.kv.watchMembers(o.nc, (c) => this.#onMember(c));
    await this.#schedule(false);
    this.#timer = setInterval(() => this.#kick(true), Math.max(100, Math.floor(o.ttlMs / 3)));
    this.#timer.unref();
    o.log.info({ owned: this.#held.size, partitions: o.partitions }, "partition ownership started");
  }

  /** Leaves: every partition drained and released, then the member entry removed. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#sub?.unsubscribe();
    for (const t of this.#silence.values()) clearTimeout(t);
    this.#silence.clear();
    // Draining may outlast the TTL (a PSP call under way): the leases stay renewed until released,
    // so what finishes meanwhile is still acknowledged here rather than sent back.
    const renewing = setInterval(
      () => void this.#renewAll().catch(() => undefined),
      Math.max(100, Math.floor(this.#o.ttlMs / 3)),
    );
    try {
      await this.#running;
      await Promise.allSettled([...this.#background]);
      const held = [...this.#held.entries()].filter(([, l]) => !l.releasing).map(([p]) => p);
      await this.#release(held);
      await Promise.allSettled([...this.#background]);
    } finally {
      clearInterval(renewing);
    }
    await this.#o.kv
      .removeMember(this.#o.workerId)
      .catch((err: unknown) => this.#o.log.warn({ err }, "could not remove this worker's member entry"));
    this.#o.metrics.partitionsOwned.set({ worker: this.#o.workerId }, 0);
  }

  /** A round from a timer or a message (a round logs its own failures and never rejects). */
  #kick(full: boolean): void {
    this.#schedule(full).catch((err: unknown) => this.#o.log.error({ err }, "ownership round crashed"));
  }

  /** Runs a round now, or right after the one under way (rounds never overlap). */
  #schedule(full: boolean): Promise<void> {
    this.#wantFull ||= full;
    if (this.#stopped) return Promise.resolve();
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        const f = this.#wantFull;
        this.#wantFull = false;
        try {
          await this.#round(f);
        } catch (err) {
          this.#o.log.warn({ err }, "ownership round failed; trying again on the next one");
        }
      } while (this.#again && !this.#stopped);
    })().finally(() => (this.#running = undefined));
    return this.#running;
  }

  /**
   * Another member joined, left, or changed its partitions: look again (a heartbeat alone: no). And
   * a member that stops writing has its entries expire a TTL after its last write: a round is due
   * then (plus a margin for the server's expiry), so a dead worker's partitions move within the TTL
   * rather than up to a third of it later, at the next timed round.
   */
  #onMember(c: MemberChange): void {
    if (c.workerId === this.#o.workerId || this.#stopped) return;
    const before = this.#seen.get(c.workerId);
    const now = c.deleted || !c.record ? undefined : c.record.partitions.join(",");
    if (now === undefined) this.#seen.delete(c.workerId);
    else this.#seen.set(c.workerId, now);
    clearTimeout(this.#silence.get(c.workerId));
    this.#silence.delete(c.workerId);
    if (now !== undefined) {
      const t = setTimeout(() => {
        this.#silence.delete(c.workerId);
        this.#kick(false);
      }, this.#o.ttlMs + EXPIRY_MARGIN_MS);
      t.unref();
      this.#silence.set(c.workerId, t);
    }
    if (before !== now) this.#kick(false);
  }

  async #round(full: boolean): Promise<void> {
    const o = this.#o;
    const now = this.#clock();
    const lapsed = [...this.#held.entries()]
      .filter(([, l]) => !leaseStands(l.renewedAt, now, o.ttlMs))
      .map(([p]) => p);
    if (lapsed.length > 0) this.#lose(lapsed, LeaseLoss.expired);
    // The member entry is written on every timed round, and at once when the partitions changed.
    if (full) await this.#renewAll();
    if (full || lapsed.length > 0) await this.#heartbeat();
    if (this.#stopped) return;
    const members = (await o.kv.members()).map((m) => m.worker_id);
    for (const id of [...this.#seen.keys()]) if (!members.includes(id)) this.#seen.delete(id);
    const target = targetOf(o.workerId, o.partitions, members);
    const { release, acquire } = plan(this.#held.keys(), target);
    const leaving = release.filter((p) => this.#held.get(p)?.releasing === false);
    if (leaving.length > 0) this.#track(this.#release(leaving));
    if (acquire.length > 0 && (await this.#acquire(acquire)) > 0) await this.#heartbeat();
  }

  /** Takes the free ones of `partitions` at once, then starts consuming them; how many it took. */
  async #acquire(partitions: number[]): Promise<number> {
    const o = this.#o;
    const at = new Date().toISOString();
    const record: LeaseRecord = { v: 1, owner: o.workerId, acquired_at: at, renewed_at: at };
    const taken = await Promise.all(
      partitions.map(async (p) => {
        const sent = this.#clock();
        try {
          const revision = await o.kv.acquire(p, record);
          return revision === undefined ? undefined : { p, revision, sent };
        } catch (err) {
          o.log.debug({ err, partition: p }, "lease not taken: NATS did not answer");
          return undefined;
        }
      }),
    );
    const gained: number[] = [];
    for (const t of taken) {
      if (!t) continue;
      this.#held.set(t.p, { revision: t.revision, renewedAt: t.sent, acquiredAt: at, releasing: false });
      gained.push(t.p);
    }
    if (gained.length === 0) return 0;
    const failed: number[] = [];
    await Promise.all(
      gained.map((p) =>
        o.consumer.startPartition(p).catch((err: unknown) => {
          o.log.error({ err, partition: p }, "partition held but its consumer did not start; releasing it");
          failed.push(p);
        }),
      ),
    );
    if (failed.length > 0) this.#track(this.#release(failed));
    this.#changed(gained.length - failed.length, 0, "partitions gained");
    return gained.length - failed.length;
  }

  /** Drains `partitions`, then gives their leases up; members learn it from the member entry. */
  async #release(partitions: number[]): Promise<void> {
    if (partitions.length === 0) return;
    const o = this.#o;
    const leases = partitions.flatMap((p) => {
      const l = this.#held.get(p);
      if (!l) return [];
      l.releasing = true;
      return [{ p, l }];
    });
    await Promise.all(leases.map(({ p }) => o.consumer.stopPartition(p)));
    await Promise.all(
      leases.map(async ({ p, l }) => {
        if (this.#held.get(p) !== l) return; // lost meanwhile: nothing of ours to delete
        this.#held.delete(p);
        // A renewal that was in flight may have moved the revision on: try with the latest.
        for (let i = 0; i < 3; i++) {
          try {
            if (await o.kv.release(p, l.revision)) return;
          } catch (err) {
            o.log.warn({ err, partition: p }, "lease not deleted; it expires by its TTL");
            return;
          }
        }
      }),
    );
    this.#changed(0, leases.length, "partitions released");
    await this.#heartbeat();
  }

  /** Leases found lapsed or taken: stop their partitions now; what is in flight is nak'ed at its end. */
  #lose(partitions: number[], reason: LeaseLoss): void {
    const o = this.#o;
    for (const p of partitions) {
      this.#held.delete(p);
      o.metrics.leaseLost.inc({ reason });
      this.#track(
        o.consumer
          .stopPartition(p)
          .catch((err: unknown) => o.log.error({ err, partition: p }, "could not stop a lost partition")),
      );
    }
    o.log.warn({ lost: partitions.length, reason, owned: this.#held.size }, "partition leases lost");
    this.#changed(0, partitions.length, undefined);
  }

  /** Renews every held lease in one burst (never two bursts at once). */
  #renewAll(): Promise<void> {
    this.#renewing ??= this.#renewBurst().finally(() => (this.#renewing = undefined));
    return this.#renewing;
  }

  /** A refusal means the lease is someone else's now (or gone). */
  async #renewBurst(): Promise<void> {
    const o = this.#o;
    const at = new Date().toISOString();
    const refused: number[] = [];
    await Promise.all(
      [...this.#held.entries()].map(async ([p, l]) => {
        const sent = this.#clock();
        const record: LeaseRecord = { v: 1, owner: o.workerId, acquired_at: l.acquiredAt, renewed_at: at };
        try {
          const revision = await o.kv.renew(p, record, l.revision);
          if (revision === undefined) {
            if (this.#held.get(p) === l) refused.push(p);
            return;
          }
          l.revision = revision;
          l.renewedAt = sent;
        } catch (err) {
          // Not renewed this round: it stands until its TTL by our clock, and the next round tries.
          o.log.debug({ err, partition: p }, "lease not renewed: NATS did not answer");
        }
      }),
    );
    if (refused.length > 0) this.#lose(refused, LeaseLoss.refused);
  }

  async #heartbeat(): Promise<void> {
    const o = this.#o;
    const record: MemberRecord = {
      v: 1,
      worker_id: o.workerId,
      host: o.host.slice(0, 255),
      pid: o.pid,
      started_at: this.#startedAt,
      heartbeat_at: new Date().toISOString(),
      partitions: this.owned(),
      last_rebalance: this.#lastRebalance,
    };
    try {
      await o.kv.putMember(record);
    } catch (err) {
      o.log.warn({ err }, "member entry not written; trying again on the next round");
    }
  }

  #changed(gained: number, lost: number, msg: string | undefined): void {
    if (gained === 0 && lost === 0) return;
    const o = this.#o;
    this.#lastRebalance = { at: new Date().toISOString(), gained, lost };
    o.metrics.rebalances.inc();
    o.metrics.partitionsOwned.set({ worker: o.workerId }, this.#held.size);
    if (msg) o.log.info({ gained, lost, owned: this.#held.size }, msg);
  }

  #track(p: Promise<void>): void {
    const t = p
      .catch((err: unknown) => this.#o.log.error({ err }, "partition hand-over failed"))
      .finally(() => this.#background.delete(t));
    this.#background.add(t);
  }
}
