// Just enough of npm's version ranges to compare `engines.node` fields (semver is not a direct
// dependency, and this needs none of its prerelease rules): a range as a union of intervals of
// versions, and whether one range admits every version another one does.

/** A version as one number: major.minor.patch with minor and patch below 10 000. */
type V = number;
type Interval = { lo: V; hi: V };

const at = (major: number, minor = 0, patch = 0): V => (major * 10_000 + minor) * 10_000 + patch;

/** `18`, `18.x`, `20.19`, `v20.19.0`: the numbers given (a wildcard ends them). */
function parts(text: string): number[] | undefined {
  const t = text.replace(/^v/, "");
  if (t === "" || t === "*" || t === "x" || t === "X") return [];
  const out: number[] = [];
  for (const p of t.split(".")) {
    if (p === "x" || p === "X" || p === "*") break;
    if (!/^\d+$/.test(p)) return undefined;
    out.push(Number(p));
  }
  return out.length > 3 ? undefined : out;
}

const low = (p: number[]) => at(p[0] ?? 0, p[1] ?? 0, p[2] ?? 0);
/** The first version after everything `p` names: 18 → 19.0.0, 18.2 → 18.3.0, 18.2.1 → 18.2.2. */
function after(p: number[]): V {
  if (p.length === 0) return Infinity;
  if (p.length === 1) return at(p[0]! + 1);
  if (p.length === 2) return at(p[0]!, p[1]! + 1);
  return at(p[0]!, p[1], p[2]! + 1);
}

function comparator(c: string): Interval {
  const m = /^(>=|<=|>|<|=|\^|~)?\s*(.*)$/.exec(c)!;
  const op = m[1] ?? "";
  const p = parts(m[2]!);
  if (!p) throw new Error(`not a version range this test reads: ${c}`);
  switch (op) {
    case ">=":
      return { lo: low(p), hi: Infinity };
    case ">":
      return { lo: after(p), hi: Infinity };
    case "<":
      return { lo: 0, hi: low(p) };
    case "<=":
      return { lo: 0, hi: after(p) };
    case "~":
      return { lo: low(p), hi: after(p.slice(0, p.length >= 2 ? 2 : 1)) };
    case "^": {
      const first = p.findIndex((n, i) => n !== 0 || i === p.length - 1);
      return { lo: low(p), hi: p.length === 0 ? Infinity : after(p.slice(0, Math.max(first, 0) + 1)) };
    }
    default:
      return { lo: low(p), hi: after(p) };
  }
}

/** A range (`>=18 <21 || >=22`, `^20.19.0 || >=22.12`, `14 - 16`, `*`) as a union of intervals. */
export function parseRange(range: string): Interval[] {
  return range.split("||").map((set) => {
    const s = set.trim().replace(/(>=|<=|>|<|=|\^|~)\s+/g, "$1");
    const hyphen = /^(\S+)\s+-\s+(\S+)$/.exec(s);
    const comparators = hyphen
      ? [comparator(`>=${hyphen[1]}`), comparator(`<=${hyphen[2]}`)]
      : s === ""
        ? [comparator("*")]
        : s.split(/\s+/).map(comparator);
    return comparators.reduce((a, b) => ({ lo: Math.max(a.lo, b.lo), hi: Math.min(a.hi, b.hi) }));
  });
}

export function satisfies(version: string, range: string): boolean {
  const p = parts(version.split("-")[0]!);
  if (!p || p.length !== 3) throw new Error(`not a version: ${version}`);
  const v = low(p);
  return parseRange(range).some((i) => i.lo <= v && v < i.hi);
}

/**
 * Whether `range` admits every version `wanted` admits. Between two of its bounds a range admits
 * all or nothing, so it is enough to try `wanted`'s lowest versions and every bound of `range`.
 */
export function admitsAll(range: string, wanted: string): boolean {
  const have = parseRange(range);
  const want = parseRange(wanted).filter((i) => i.lo < i.hi);
  const inside = (v: V, list: Interval[]) => list.some((i) => i.lo <= v && v < i.hi);
  const probes = [...want.map((i) => i.lo), ...have.flatMap((i) => [i.lo, i.hi])].filter(Number.isFinite);
  return probes.every((v) => !inside(v, want) || inside(v, have));
}
