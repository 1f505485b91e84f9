// What a worker does with its partitions in one ownership round, decided from what it holds and
// what rendezvous hashing says it should hold. Pure.

export type Plan = {
  /** Held and no longer ours: drain, then give the lease up. */
  release: number[];
  /** Ours and not held: try to take the lease. */
  acquire: number[];
};

export function plan(held: Iterable<number>, target: Iterable<number>): Plan {
  const h = new Set(held);
  const t = new Set(target);
  return {
    release: [...h].filter((p) => !t.has(p)).sort((a, b) => a - b),
    acquire: [...t].filter((p) => !h.has(p)).sort((a, b) => a - b),
  };
}

/**
 * Whether a lease renewed (sent) at `renewedAt` still stands at `now`, on the monotonic clock. The
 * time is taken when the renewal was sent, before the server stored it, so the server's own expiry
 * (max_age from its store time) always comes later than this one: a worker gives a lease up in its
 * own eyes before anyone else can take it.
 */
export function leaseStands(renewedAt: number, now: number, ttlMs: number): boolean {
  return now - renewedAt < ttlMs;
}
