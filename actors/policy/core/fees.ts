// Expected PSP fees from the fee policy. Pure and exact: percentages stay decimal strings until
// they become integer parts per million, and the arithmetic is on integers (BigInt when a product
// could leave the safe-integer range), so no binary float ever touches money.
//
// Rounding rule: fee = fixed + round_half_up(amount × ppm / 1 000 000), then at least the
// entry's minimum for the currency. Half up: a percentage part of exactly x.5 minor units becomes
// x + 1 (amounts and percentages are never negative, so half up = half away from zero).
import type { FeeEntry, FeePolicy, Region } from "./schemas.ts";

const PPM = 1_000_000;
const PPM_N = 1_000_000n;

/** "1.4" → 14 000, "0.0001" → 1, "12" → 120 000. Read digit by digit: no float parsing. */
export function percentToPpm(p: string): number {
  const m = /^(\d+)(?:\.(\d{1,4}))?$/.exec(p);
  if (!m) throw new RangeError(`bad percentage ${JSON.stringify(p)} (digits, at most 4 decimals)`);
  const whole = m[1]!;
  const frac = (m[2] ?? "").padEnd(4, "0");
  return Number(whole) * 10_000 + Number(frac);
}

/** What a fee is asked about: the payment's amount (minor units), currency, card brand and region. */
export type FeeQuery = { amount: number; currency: string; brand: string; region: Region };

type CompiledEntry = {
  schemes: ReadonlySet<string> | null;
  regions: ReadonlySet<string> | null;
  fixed: Readonly<Record<string, number>>;
  ppm: number;
  minimum: Readonly<Record<string, number>>;
};

const compiled = new WeakMap<FeePolicy, ReadonlyMap<string, readonly CompiledEntry[]>>();

function compile(policy: FeePolicy): ReadonlyMap<string, readonly CompiledEntry[]> {
  let c = compiled.get(policy);
  if (c) return c;
  const m = new Map<string, CompiledEntry[]>();
  for (const [psp, entries] of Object.entries(policy.psps)) {
    m.set(
      psp,
      entries.map((e: FeeEntry) => ({
        schemes: e.schemes ? new Set(e.schemes) : null,
        regions: e.regions ? new Set(e.regions) : null,
        fixed: e.fixed,
        ppm: percentToPpm(e.percent),
        minimum: e.minimum ?? {},
      })),
    );
  }
  c = m;
  compiled.set(policy, c);
  return c;
}

function entryFor(policy: FeePolicy, psp: string, q: FeeQuery): CompiledEntry | undefined {
  const entries = compile(policy).get(psp);
  if (!entries) return undefined;
  for (const e of entries) {
    if (e.schemes && !e.schemes.has(q.brand)) continue;
    if (e.regions && !e.regions.has(q.region)) continue;
    if (!Object.hasOwn(e.fixed, q.currency)) continue;
    return e;
  }
  return undefined;
}

/** round_half_up(amount × ppm / 10^6) for non-negative integers, exactly. */
export function percentPart(amount: number, ppm: number): number {
  const product = amount * ppm;
  if (Number.isSafeInteger(product)) {
    // Both operations are exact on safe integers: % gives the remainder, the division is exact.
    const rem = product % PPM;
    return (product - rem) / PPM + (rem * 2 >= PPM ? 1 : 0);
  }
  const p = BigInt(amount) * BigInt(ppm);
  return Number((p * 2n + PPM_N) / (2n * PPM_N));
}

/**
 * The terms a PSP prices a payment on, in the payment's currency: a fixed part (minor units), a
 * percentage (parts per million) and a minimum. Recorded with the routing decision, so that the fee
 * of what is really captured (a partial capture: the fixed part in full, the percentage of the amount
 * captured) is computed later by the same rule, whatever the fee policy has become since.
 */
export type FeeTerms = { fixed: number; ppm: number; minimum: number };

/** The terms of the PSP's first entry that prices q (as expectedFee picks it); null when none does. */
export function feeTermsFor(policy: FeePolicy, psp: string, q: Omit<FeeQuery, "amount">): FeeTerms | null {
  const e = entryFor(policy, psp, { ...q, amount: 0 });
  if (!e) return null;
  return { fixed: e.fixed[q.currency] ?? 0, ppm: e.ppm, minimum: e.minimum[q.currency] ?? 0 };
}

/** The fee of `amount` on these terms: fixed + round_half_up(amount × ppm / 10^6), at least the minimum. */
export function feeOnTerms(terms: FeeTerms, amount: number): number {
  return Math.max(terms.fixed + percentPart(amount, terms.ppm), terms.minimum);
}

/**
 * The expected fee in minor units of q.currency: the PSP's first entry whose schemes and regions
 * match and whose `fixed` lists the currency. null when no entry prices the payment.
 */
export function expectedFee(policy: FeePolicy, psp: string, q: FeeQuery): number | null {
  const terms = feeTermsFor(policy, psp, q);
  return terms && feeOnTerms(terms, q.amount);
}

/** The fee before rounding and before the minimum, as an exact fraction; with the minimum beside it. For tests and reports. */
export type ExactFee = { numerator: bigint; denominator: bigint; minimum: number };

export function exactFee(policy: FeePolicy, psp: string, q: FeeQuery): ExactFee | null {
  const e = entryFor(policy, psp, q);
  if (!e) return null;
  return {
    numerator: BigInt(e.fixed[q.currency] ?? 0) * PPM_N + BigInt(q.amount) * BigInt(e.ppm),
    denominator: PPM_N,
    minimum: e.minimum[q.currency] ?? 0,
  };
}
