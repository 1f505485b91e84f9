// A routing rule's conditions: matching one payment, and the set logic the validator needs.
//
// Matching: every condition given must hold (AND); an absent one holds for every payment.
//
// Set logic: a Conditions value denotes the set of payments it matches. That set is a product of
// independent dimensions, so `subsumes` and `intersects` are decided dimension by dimension, and
// exactly (not approximately) under these universes:
//   - currency × amount, one dimension because `amount` is keyed by currency: a finite map
//     currency → inclusive integer interval, or "any currency"; amounts live in [1, MAX_AMOUNT]
//     (what the platform accepts). The set of currencies is open (an explicit list never equals
//     "any").
//   - card country, one dimension because `regions` is a function of the BIN country and the home
//     country: `bin_countries` and `regions` both become sets of BIN countries (null = unknown,
//     which is international). The set of countries is open.
//   - brands and capture: closed universes (the five card brands; automatic/manual), so listing
//     every brand is the same as no brand condition.
//   - merchants: open universe.
//   - metadata: one dimension per key named on either side; a value is absent or a string.
//     `"x"` = exactly "x"; `true` = any string (present). Open universe of strings.
// A payment set with an empty dimension is empty: it matches nothing, is subsumed by every
// condition and intersects none. Open universes are treated as infinite, so e.g. "every country
// except three" is never empty; that is the only idealisation, and it is conservative for the
// validator (it may miss a subsumption that only holds because all 676 codes are listed).
import { CardBrand } from "../../payment/core/card.ts";
import { MAX_AMOUNT } from "../../payment/core/money.ts";
import type { PaymentFacts } from "./decision.ts";
import { EEA } from "./region.ts";
import type { Conditions, Region } from "./schemas.ts";

// ---------------------------------------------------------------------------------------------
// Matching

export type Matcher = (facts: PaymentFacts, region: Region) => boolean;

/** Compiles conditions into a predicate; sets are built once, so a match costs a few lookups. */
export function compileConditions(c: Conditions): Matcher {
  const tests: Matcher[] = [];
  if (c.currencies) {
    const s = new Set(c.currencies);
    tests.push((f) => s.has(f.currency));
  }
  if (c.amount) {
    const ranges = new Map(Object.entries(c.amount).map(([k, r]) => [k, [r.min ?? 0, r.max ?? Infinity]]));
    tests.push((f) => {
      const r = ranges.get(f.currency);
      return r !== undefined && f.amount >= r[0]! && f.amount <= r[1]!;
    });
  }
  if (c.brands) {
    const s = new Set<string>(c.brands);
    tests.push((f) => s.has(f.brand));
  }
  if (c.bin_countries) {
    const s = new Set(c.bin_countries);
    tests.push((f) => f.binCountry !== null && s.has(f.binCountry));
  }
  if (c.regions) {
    const s = new Set(c.regions);
    tests.push((_f, region) => s.has(region));
  }
  if (c.merchants) {
    const s = new Set(c.merchants);
    tests.push((f) => s.has(f.merchantId));
  }
  if (c.capture) {
    const capture = c.capture;
    tests.push((f) => f.capture === capture);
  }
  if (c.metadata) {
    for (const [k, v] of Object.entries(c.metadata)) {
      if (v === true) tests.push((f) => Object.hasOwn(f.metadata, k));
      else tests.push((f) => Object.hasOwn(f.metadata, k) && f.metadata[k] === v);
    }
  }
  switch (tests.length) {
    case 0:
      return () => true;
    case 1:
      return tests[0]!;
    default:
      return (f, r) => {
        for (const t of tests) if (!t(f, r)) return false;
        return true;
      };
  }
}

export function matches(c: Conditions, facts: PaymentFacts, region: Region): boolean {
  return compileConditions(c)(facts, region);
}

/** The conditions in words, with the payment's values: `currency EUR, amount 150000 in [100000, ∞)`. */
export function describeMatch(c: Conditions, facts: PaymentFacts, region: Region): string {
  const parts: string[] = [];
  if (c.currencies) parts.push(`currency ${facts.currency}`);
  const r = c.amount?.[facts.currency];
  if (r) {
    const hi = r.max === undefined ? "∞)" : `${r.max}]`;
    parts.push(`amount ${facts.amount} in [${r.min ?? 0}, ${hi}`);
    if (!c.currencies) parts.unshift(`currency ${facts.currency}`);
  }
  if (c.brands) parts.push(`brand ${facts.brand}`);
  if (c.bin_countries) parts.push(`BIN country ${facts.binCountry ?? "unknown"}`);
  if (c.regions) parts.push(`region ${region}`);
  if (c.merchants) parts.push(`merchant ${facts.merchantId}`);
  if (c.capture) parts.push(`capture ${facts.capture}`);
  for (const [k, v] of Object.entries(c.metadata ?? {}))
    parts.push(v === true ? `metadata ${k} present` : `metadata ${k}=${JSON.stringify(v)}`);
  return parts.length === 0 ? "no conditions (every payment)" : parts.join(", ");
}

// ---------------------------------------------------------------------------------------------
// Sets: finite ("only these") or co-finite ("all but these") over an open universe.

type Elem = string | null;
type SetExpr = { only: ReadonlySet<Elem> } | { except: ReadonlySet<Elem> };

const ANY: SetExpr = { except: new Set() };

function isEmpty(s: SetExpr): boolean {
  return "only" in s && s.only.size === 0;
}

function subset(a: SetExpr, b: SetExpr): boolean {
  if ("only" in a) {
    if ("only" in b) return [...a.only].every((x) => b.only.has(x));
    return [...a.only].every((x) => !b.except.has(x));
  }
  if ("only" in b) return false; // an infinite set is never inside a finite one
  return [...b.except].every((x) => a.except.has(x));
}

function meet(a: SetExpr, b: SetExpr): SetExpr {
  if ("only" in a) {
    if ("only" in b) return { only: new Set([...a.only].filter((x) => b.only.has(x))) };
    return { only: new Set([...a.only].filter((x) => !b.except.has(x))) };
  }
  if ("only" in b) return meet(b, a);
  return { except: new Set([...a.except, ...b.except]) };
}

function join(a: SetExpr, b: SetExpr): SetExpr {
  if ("only" in a && "only" in b) return { only: new Set([...a.only, ...b.only]) };
  if ("except" in a && "except" in b)
    return { except: new Set([...a.except].filter((x) => b.except.has(x))) };
  const [fin, cof] =
    "only" in a ? [a, b as { except: ReadonlySet<Elem> }] : [b as { only: ReadonlySet<Elem> }, a];
  return { except: new Set([...cof.except].filter((x) => !fin.only.has(x))) };
}

const BRANDS: SetExpr = { only: new Set<Elem>(Object.values(CardBrand)) };
const CAPTURES: SetExpr = { only: new Set<Elem>(["automatic", "manual"]) };

/** The BIN countries (null = unknown) whose region, seen from home, is `region`. */
function countriesOfRegion(region: Region, home: string): SetExpr {
  const homeInEea = EEA.has(home);
  switch (region) {
    case "domestic":
      return { only: new Set([home]) };
    case "intra_eea":
      return { only: new Set(homeInEea ? [...EEA].filter((c) => c !== home) : []) };
    case "international":
      // null is in neither except-set, so unknown BIN countries are international, as in regionOf.
      return { except: homeInEea ? new Set(EEA) : new Set([home]) };
  }
}

// Currency × amount: null = any currency, any amount; else currency → [lo, hi] (non-empty only).
type Money = ReadonlyMap<string, readonly [number, number]> | null;

type Denotation = {
  money: Money;
  brands: SetExpr;
  countries: SetExpr;
  merchants: SetExpr;
  capture: SetExpr;
  metadata: ReadonlyMap<string, SetExpr>;
};

const LO = 1;
const HI = MAX_AMOUNT;

function money(c: Conditions): Money {
  if (!c.currencies && !c.amount) return null;
  const m = new Map<string, readonly [number, number]>();
  const currencies = c.amount ? Object.keys(c.amount) : c.currencies!;
  for (const cur of currencies) {
    if (c.currencies && !c.currencies.includes(cur)) continue;
    const r = c.amount?.[cur];
    const lo = Math.max(LO, r?.min ?? LO);
    const hi = Math.min(HI, r?.max ?? HI);
    if (lo <= hi) m.set(cur, [lo, hi]);
  }
  return m;
}

function denote(c: Conditions, home: string): Denotation {
  let countries: SetExpr = c.bin_countries ? { only: new Set(c.bin_countries) } : ANY;
  if (c.regions) {
    const byRegion = c.regions.map((r) => countriesOfRegion(r, home)).reduce(join);
    countries = meet(countries, byRegion);
  }
  const metadata = new Map<string, SetExpr>();
  for (const [k, v] of Object.entries(c.metadata ?? {}))
    metadata.set(k, v === true ? { except: new Set([null]) } : { only: new Set([v]) });
  return {
    money: money(c),
    brands: c.brands ? meet(BRANDS, { only: new Set(c.brands) }) : BRANDS,
    countries,
    merchants: c.merchants ? { only: new Set(c.merchants) } : ANY,
    capture: c.capture ? { only: new Set([c.capture]) } : CAPTURES,
    metadata,
  };
}

function emptyDenotation(d: Denotation): boolean {
  return (
    (d.money !== null && d.money.size === 0) ||
    isEmpty(d.brands) ||
    isEmpty(d.countries) ||
    isEmpty(d.merchants) ||
    isEmpty(d.capture) ||
    [...d.metadata.values()].some(isEmpty)
  );
}

/** a ⊆ b */
function moneySubset(a: Money, b: Money): boolean {
  if (a === null) return b === null;
  if (b === null) return true;
  for (const [cur, [lo, hi]] of a) {
    const r = b.get(cur);
    if (!r || lo < r[0] || hi > r[1]) return false;
  }
  return true;
}

function moneyIntersects(a: Money, b: Money): boolean {
  if (a === null) return b === null || b.size > 0;
  if (b === null) return a.size > 0;
  for (const [cur, [lo, hi]] of a) {
    const r = b.get(cur);
    if (r && lo <= r[1] && r[0] <= hi) return true;
  }
  return false;
}

function metaKeys(a: Denotation, b: Denotation): Set<string> {
  return new Set([...a.metadata.keys(), ...b.metadata.keys()]);
}

/** No payment matches these conditions (under the home country given). */
export function matchesNothing(c: Conditions, homeCountry: string): boolean {
  return emptyDenotation(denote(c, homeCountry));
}

/** Every payment that matches `b` matches `a` (regions judged from `homeCountry`). */
export function subsumes(a: Conditions, b: Conditions, homeCountry: string): boolean {
  const da = denote(a, homeCountry);
  const db = denote(b, homeCountry);
  if (emptyDenotation(db)) return true;
  return (
    moneySubset(db.money, da.money) &&
    subset(db.brands, da.brands) &&
    subset(db.countries, da.countries) &&
    subset(db.merchants, da.merchants) &&
    subset(db.capture, da.capture) &&
    [...metaKeys(da, db)].every((k) => subset(db.metadata.get(k) ?? ANY, da.metadata.get(k) ?? ANY))
  );
}

/** Some payment matches both `a` and `b` (regions judged from `homeCountry`). */
export function intersects(a: Conditions, b: Conditions, homeCountry: string): boolean {
  const da = denote(a, homeCountry);
  const db = denote(b, homeCountry);
  if (emptyDenotation(da) || emptyDenotation(db)) return false;
  return (
    moneyIntersects(da.money, db.money) &&
    !isEmpty(meet(da.brands, db.brands)) &&
    !isEmpty(meet(da.countries, db.countries)) &&
    !isEmpty(meet(da.merchants, db.merchants)) &&
    !isEmpty(meet(da.capture, db.capture)) &&
    [...metaKeys(da, db)].every((k) => !isEmpty(meet(da.metadata.get(k) ?? ANY, db.metadata.get(k) ?? ANY)))
  );
}
