// Which worker should own which PAY_CMD partition: rendezvous (highest-random-weight) hashing. Each
// (partition, member) pair gets a pseudo-random weight; a partition goes to the member with the
// highest. A member joining takes exactly the partitions where it now weighs most, and a member
// leaving gives up only its own: every other partition keeps its owner. Loads are bounded (see
// LOAD_SLACK), which costs a few extra moves. Pure: the same members give the same map on every
// worker, with no coordination.
import { mix32 } from "../../policy/core/hash.ts";

/** A member's weight for a partition: FNV-1a then fmix32 (policy/core/hash.ts) of the pair. */
export function weight(member: string, partition: number): number {
  return mix32(`${member}\u0000${partition}`);
}

/** The member that should own `partition` (ties broken by the smaller id), or undefined with none. */
export function ownerOf(partition: number, members: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1;
  for (const m of members) {
    const w = weight(m, partition);
    if (w > bestWeight || (w === bestWeight && best !== undefined && m < best)) {
      best = m;
      bestWeight = w;
    }
  }
  return best;
}

/**
 * How far past its fair share (partitions / members) a member's load may go: rendezvous with
 * bounded loads. Pure rendezvous leaves a worker's count to chance (binomial: with 4 partitions and
 * 2 workers, one in eight splits is 4-0); the bound caps every worker at 1.25x its share at the cost
 * of a few extra moves on a join or leave (measured: under one partition of 64 on average).
 */
export const LOAD_SLACK = 0.25;

/**
 * The most partitions one member may own: its share times 1 + slack, rounded down, and never below
 * the share rounded up (someone must own that many). Rounded up instead, the cap of 8 partitions
 * over 3 workers was 4 = 1.5x the share, and about one split in sixteen was 4-4-0: a worker idle.
 */
export function loadCap(partitions: number, members: number, slack: number = LOAD_SLACK): number {
  if (!Number.isFinite(slack)) return Infinity;
  const share = partitions / members;
  return Math.max(Math.ceil(share), Math.floor(share * (1 + slack) + 1e-9));
}

/**
 * Every partition 0..partitions-1 with the member that should own it: in partition order, each goes
 * to the highest-weighing member not yet at its cap (loadCap). `slack: Infinity`
 * is pure rendezvous.
 */
export function assignment(
  partitions: number,
  members: readonly string[],
  slack: number = LOAD_SLACK,
): Map<number, string> {
  const out = new Map<number, string>();
  if (members.length === 0) return out;
  const ids = [...new Set(members)];
  const cap = loadCap(partitions, ids.length, slack);
  const load = new Map(ids.map((m) => [m, 0]));
  for (let p = 0; p < partitions; p++) {
    const ranked = ids
      .map((m) => ({ m, w: weight(m, p) }))
      .sort((a, b) => b.w - a.w || (a.m < b.m ? -1 : a.m > b.m ? 1 : 0));
    const owner = (ranked.find(({ m }) => (load.get(m) ?? 0) < cap) ?? ranked[0]!).m;
    out.set(p, owner);
    load.set(owner, (load.get(owner) ?? 0) + 1);
  }
  return out;
}

/** The partitions `member` should own among `members` (itself included; sorted). */
export function targetOf(
  member: string,
  partitions: number,
  members: readonly string[],
  slack: number = LOAD_SLACK,
): number[] {
  const all = members.includes(member) ? members : [...members, member];
  const out: number[] = [];
  for (const [p, m] of assignment(partitions, all, slack)) if (m === member) out.push(p);
  return out;
}
