// The router: a payment's facts and the active policies in, a RoutingDecision out. Pure and
// deterministic: no clock, no randomness, no I/O; the same input gives a deep-equal decision.
// Every "random" choice (a weighted split's arm, exploration) is a hash of the payment id, so a
// payment routed again lands in the same arm.
//
// Hash: FNV-1a 32 over the UTF-16 code units of `salt + ":" + paymentId` (= its bytes for ASCII
// ids), then murmur3's fmix32 finaliser so that ids differing only in their last characters
// spread evenly. A hash h is a point in [0, 1) as h / 2^32; picking among weights w₁…wₙ takes the
// arm whose cumulative range contains floor(h × Σw / 2^32). Salts: "split" for weighted arms,
// "explore" for the exploration draw, "explore-pick" for which PSP exploration picks.
//
// Eligibility always wins over rules: a PSP that cannot take the payment (currency, brand, a
// required capability, or unknown), is forced out, or has an open circuit is never in `order`.
import {
  expectedFeeOf,
  type Candidate,
  type PaymentFacts,
  type PspHealth,
  type RoutingDecision,
  type RoutingInput,
  type ShadowResult,
  type Versioned,
} from "./decision.ts";
import { compileConditions, describeMatch, type Matcher } from "./conditions.ts";
import { feeOnTerms, feeTermsFor, type FeeTerms } from "./fees.ts";
import { regionOf } from "./region.ts";
import { retryTermsOf } from "./retry.ts";
import type { Capability, PspCapabilities, Region, RoutingOutcome, RoutingPolicy } from "./schemas.ts";
import { mix32 } from "./hash.ts";

/** A PSP's success rate is not trusted below min_samples outcomes; it is scored as this prior instead. */
export const SUCCESS_RATE_PRIOR = 0.5;

const HEALTHY: PspHealth = { circuit: "closed", forcedOut: false, successRate: 0, samples: 0 };

// ---------------------------------------------------------------------------------------------
// Hashing

/** FNV-1a 32 of `salt:id`, finalised with fmix32; an unsigned 32-bit integer. */
export function stableHash(salt: string, id: string): number {
  return mix32(`${salt}:${id}`);
}

/** floor(h × n / 2^32): an integer in [0, n) (exact: h × n < 2^53 for n < 2^21). */
function scale(h: number, n: number): number {
  return Math.floor((h * n) / 4294967296);
}

/** The index of the arm whose cumulative weight range contains the hash, or -1 if all weigh 0. */
function pickWeighted(h: number, weights: readonly number[]): number {
  const total = weights.reduce((a, b) => a + b, 0);
  if (total <= 0) return -1;
  const point = scale(h, total);
  let cum = 0;
  for (let i = 0; i < weights.length; i++) {
    cum += weights[i]!;
    if (point < cum) return i;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------
// Compiled policy

type CompiledRule = {
  id: string;
  index: number;
  match: Matcher;
  /** policy.requires ∪ rule.requires, without duplicates. */
  needs: readonly Capability[];
  outcome: RoutingOutcome;
};

type CompiledPolicy = {
  home: string;
  rules: readonly CompiledRule[];
  /** The rules a payment in this currency can match, in policy order: an index, so that a decision skips rules for other currencies. */
  byCurrency: ReadonlyMap<string, readonly CompiledRule[]>;
  /** The rules for a currency no rule names: those without a currency condition. */
  anyCurrency: readonly CompiledRule[];
  fallback: readonly string[];
  needs: readonly Capability[];
};

const compiledPolicies = new WeakMap<RoutingPolicy, CompiledPolicy>();

function compile(policy: RoutingPolicy): CompiledPolicy {
  let c = compiledPolicies.get(policy);
  if (c) return c;
  const base = [...new Set(policy.requires)];
  const rules = policy.rules.map((r, index) => ({
    id: r.id,
    index,
    match: compileConditions(r.when),
    needs: [...new Set([...base, ...(r.requires ?? [])])],
    outcome: r.then,
  }));
  // The currencies each rule can match (null: any); the matcher still checks them.
  const currenciesOf = policy.rules.map((r): ReadonlySet<string> | null => {
    const { currencies, amount } = r.when;
    if (amount) return new Set(Object.keys(amount).filter((k) => !currencies || currencies.includes(k)));
    return currencies ? new Set(currencies) : null;
  });
  const named = new Set(currenciesOf.flatMap((s) => (s ? [...s] : [])));
  const byCurrency = new Map<string, CompiledRule[]>();
  for (const cur of named)
    byCurrency.set(
      cur,
      rules.filter((_, i) => {
        const s = currenciesOf[i];
        return s === null || s === undefined || s.has(cur);
      }),
    );
  c = {
    home: policy.home_country,
    needs: base,
    fallback: [...new Set(policy.fallback ?? [])],
    rules,
    byCurrency,
    anyCurrency: rules.filter((_, i) => currenciesOf[i] === null),
  };
  compiledPolicies.set(policy, c);
  return c;
}

// ---------------------------------------------------------------------------------------------
// One PSP, assessed for this payment

type Assessed = {
  psp: string;
  eligible: boolean;
  routable: boolean;
  excluded: string[];
  expectedFee: number | null;
  feeTerms: FeeTerms | null;
  health: PspHealth;
};

function hasCapability(caps: PspCapabilities, need: Capability): boolean {
  switch (need) {
    case "three_ds":
      return caps.threeDs;
    case "partial_capture":
      return caps.partialCapture;
    case "refunds":
      return caps.refunds;
  }
}

type Context = {
  input: RoutingInput;
  facts: PaymentFacts;
  region: Region;
  needs: readonly Capability[];
  seen: Map<string, Assessed>;
};

function assess(ctx: Context, psp: string): Assessed {
  const known = ctx.seen.get(psp);
  if (known) return known;
  const { facts, input } = ctx;
  const excluded: string[] = [];
  const caps = input.capabilities.get(psp);
  if (!caps) excluded.push("unknown PSP");
  else {
    if (!caps.currencies.includes(facts.currency)) excluded.push(`currency ${facts.currency} not supported`);
    if (!caps.brands.includes(facts.brand)) excluded.push(`brand ${facts.brand} not supported`);
    for (const need of ctx.needs)
      if (!hasCapability(caps, need)) excluded.push(`capability ${need} not supported`);
  }
  let terms = feeTermsFor(input.fees.policy, psp, {
    currency: facts.currency,
    brand: facts.brand,
    region: ctx.region,
  });
  let fee = terms && feeOnTerms(terms, facts.amount);
  if (fee !== null && !Number.isSafeInteger(fee)) {
    // Past 2^53 the fee is a rounded number: ranking by it or recording it would be wrong money.
    // Validation refuses such fee policies; this keeps a stored one from slipping through.
    excluded.push("expected fee is not a safe integer");
    fee = null;
    terms = null;
  }
  const eligible = excluded.length === 0;
  const health = input.health.get(psp) ?? HEALTHY;
  if (health.forcedOut) excluded.push("forced out of rotation");
  if (health.circuit === "open") excluded.push("circuit open");
  const a: Assessed = {
    psp,
    eligible,
    routable: excluded.length === 0,
    excluded,
    expectedFee: fee,
    feeTerms: terms,
    health,
  };
  ctx.seen.set(psp, a);
  return a;
}

// ---------------------------------------------------------------------------------------------
// Outcomes: each orders its PSPs and scores them

type Ranked = { order: Assessed[]; scores: Map<string, number | null>; note: string };

function byListOrder(psps: readonly Assessed[]): Ranked {
  return { order: [...psps], scores: new Map(psps.map((a, i) => [a.psp, i])), note: "" };
}

/** Stable sort by key (ties keep list order). */
function sortBy(psps: readonly Assessed[], key: (a: Assessed) => number): Assessed[] {
  return psps
    .map((a, i) => ({ a, i, k: key(a) }))
    .sort((x, y) => x.k - y.k || x.i - y.i)
    .map((x) => x.a);
}

function rankWeighted(
  ctx: Context,
  split: readonly { psp: string; weight: number }[],
  psps: readonly Assessed[],
): Ranked {
  // Arms of the same PSP (a malformed policy) are merged by summing their weights.
  const weightOf = new Map<string, number>();
  for (const arm of split) weightOf.set(arm.psp, (weightOf.get(arm.psp) ?? 0) + arm.weight);
  const w = (a: Assessed) => weightOf.get(a.psp) ?? 0;
  const h = stableHash("split", ctx.facts.paymentId);
  let pickedIdx = pickWeighted(h, psps.map(w));
  let note = "";
  let picked = pickedIdx >= 0 ? psps[pickedIdx] : undefined;
  if (picked && !picked.routable) {
    // The arm is down: spread its share over the routable arms by the same hash, so the payments
    // of healthy arms keep their arm.
    const routable = psps.filter((a) => a.routable);
    pickedIdx = pickWeighted(h, routable.map(w));
    const instead = pickedIdx >= 0 ? routable[pickedIdx] : undefined;
    note = instead ? `; split arm ${picked.psp} not routable, re-split to ${instead.psp}` : "";
    picked = instead;
  } else if (picked) note = `; split picked ${picked.psp}`;
  const rest = sortBy(
    psps.filter((a) => a !== picked),
    (a) => -w(a),
  );
  return {
    order: picked ? [picked, ...rest] : rest,
    scores: new Map(psps.map((a) => [a.psp, w(a)])),
    note,
  };
}

function rankLeastCost(psps: readonly Assessed[]): Ranked {
  const order = sortBy(psps, (a) => a.expectedFee ?? Infinity);
  return { order, scores: new Map(psps.map((a) => [a.psp, a.expectedFee])), note: "" };
}

function rankSuccessRate(
  ctx: Context,
  o: Extract<RoutingOutcome, { type: "best_success_rate" }>,
  psps: readonly Assessed[],
): Ranked {
  const score = (a: Assessed) =>
    a.health.samples >= o.min_samples ? a.health.successRate : SUCCESS_RATE_PRIOR;
  let order = sortBy(psps, (a) => -score(a));
  let note = "";
  const routable = order.filter((a) => a.routable);
  const best = routable[0];
  const others = routable.slice(1);
  if (best && others.length > 0) {
    const draw = stableHash("explore", ctx.facts.paymentId) / 4294967296;
    if (draw < o.exploration) {
      const explored = others[scale(stableHash("explore-pick", ctx.facts.paymentId), others.length)]!;
      order = [explored, ...order.filter((a) => a !== explored)];
      note = `; exploring ${explored.psp} instead of ${best.psp}`;
    }
  }
  return { order, scores: new Map(psps.map((a) => [a.psp, score(a)])), note };
}

function outcomePsps(o: RoutingOutcome): string[] {
  return [...new Set(o.type === "weighted" ? o.split.map((a) => a.psp) : o.psps)];
}

function rank(ctx: Context, o: RoutingOutcome): Ranked {
  const psps = outcomePsps(o).map((p) => assess(ctx, p));
  switch (o.type) {
    case "priority":
      return byListOrder(psps);
    case "weighted":
      return rankWeighted(ctx, o.split, psps);
    case "least_cost":
      return rankLeastCost(psps);
    case "best_success_rate":
      return rankSuccessRate(ctx, o, psps);
  }
}

// ---------------------------------------------------------------------------------------------
// The decision

type Listed = { seen: Set<string>; order: string[]; candidates: Candidate[] };

/**
 * Each PSP once, first listing wins. At module level, not a closure in decideRoute (under tsx, with
 * keepNames, a named closure costs a defineProperty each time it is made, here once per payment),
 * and built key by key in the order the literal had (a literal with a conditional spread followed
 * by more keys takes V8's slow path on Node 20).
 */
function listCandidate(l: Listed, a: Assessed, score: number | null): void {
  if (l.seen.has(a.psp)) return;
  l.seen.add(a.psp);
  if (a.routable) l.order.push(a.psp);
  const c: Candidate = {
    psp: a.psp,
    eligible: a.eligible,
    excluded: [...a.excluded],
    score,
    expectedFee: a.expectedFee,
  } as Candidate;
  if (a.feeTerms) c.feeTerms = a.feeTerms;
  c.circuit = a.health.circuit;
  l.candidates.push(c);
}

export function decideRoute(input: RoutingInput): RoutingDecision {
  const policy = compile(input.routing.policy);
  const facts = input.facts;
  const region = regionOf(facts.binCountry, policy.home);
  let rule: CompiledRule | undefined;
  for (const r of policy.byCurrency.get(facts.currency) ?? policy.anyCurrency) {
    if (r.match(facts, region)) {
      rule = r;
      break;
    }
  }
  const base = rule ? rule.needs : policy.needs;
  const needs: readonly Capability[] =
    facts.capture === "manual" && !base.includes("partial_capture") ? [...base, "partial_capture"] : base;
  const ctx: Context = { input, facts, region, needs, seen: new Map() };

  const fallback = policy.fallback.map((p) => assess(ctx, p));
  const ranked = rule ? rank(ctx, rule.outcome) : byListOrder(fallback);

  const listed: Listed = { seen: new Set(), order: [], candidates: [] };
  for (const a of ranked.order) listCandidate(listed, a, ranked.scores.get(a.psp) ?? null);
  for (const a of fallback) listCandidate(listed, a, null);
  const { order, candidates } = listed;

  let reason = rule
    ? `rule "${rule.id}" matched: ${describeMatch(input.routing.policy.rules[rule.index]!.when, facts, region)}`
    : "no rule matched; fallback";
  reason += ranked.note;
  if (order.length === 0) reason += "; no PSP can take the payment";

  return {
    policyVersions: {
      routing: input.routing.version,
      fees: input.fees.version,
      retries: input.retries.version,
    },
    ruleId: rule ? rule.id : null,
    ruleIndex: rule ? rule.index : null,
    reason,
    strategy: rule ? rule.outcome.type : "fallback",
    candidates,
    order,
    retry: retryTermsOf(input.retries.policy),
  };
}

function firstChoiceFee(d: RoutingDecision): number | null {
  return expectedFeeOf(d, d.order[0] ?? null);
}

/** The same payment decided under a candidate routing policy, compared with the active decision. Recorded, never acted on. */
export function evaluateShadow(
  active: RoutingDecision,
  input: RoutingInput,
  shadow: Versioned<RoutingPolicy>,
): ShadowResult {
  const d = decideRoute({ ...input, routing: shadow });
  const psp = d.order[0] ?? null;
  const fee = firstChoiceFee(d);
  return {
    routingVersion: shadow.version,
    ruleId: d.ruleId,
    psp,
    expectedFee: fee,
    divergedPsp: psp !== (active.order[0] ?? null),
    divergedFee: fee !== firstChoiceFee(active),
  };
}
