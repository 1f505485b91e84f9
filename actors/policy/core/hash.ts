// One stable 32-bit hash of a string for the pure core: the router's split arms (router.ts) and the
// workers' rendezvous weights (actors/cluster/core/rendezvous.ts). Deterministic across processes
// and versions of Node, unlike anything seeded.

/** FNV-1a over the UTF-16 code units, then murmur3's 32-bit finalizer (fmix32); unsigned. */
export function mix32(s: string): number {
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
