// Which worker should own which PAY_CMD partition: rendezvous (highest-random-weight) hashing. Each
// (partition, member) pair gets a pseudo-random weight; a partition goes to the member with the
// highest. A member joining takes exactly the partitions where it now weighs most, and a member
// leaving gives up only its own: every other partition keeps its owner. Pure: the same members give
// the same map on every worker, with no coordination.

/** FNV-1a over the UTF-16 code units, then murmur3's 32-bit finalizer to spread similar inputs. */
export function weight(member: string, partition: number): number {
  const s = `${member}\u0000${partition}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
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

/** Every partition 0..partitions-1 with the member that should own it. */
export function assignment(partitions: number, members: readonly string[]): Map<number, string> {
  const out = new Map<number, string>();
  if (members.length === 0) return out;
  for (let p = 0; p < partitions; p++) out.set(p, ownerOf(p, members)!);
  return out;
}

/** The partitions `member` should own among `members` (sorted). */
export function targetOf(member: string, partitions: number, members: readonly string[]): number[] {
  const all = members.includes(member) ? members : [...members, member];
  const out: number[] = [];
  for (let p = 0; p < partitions; p++) if (ownerOf(p, all) === member) out.push(p);
  return out;
}
