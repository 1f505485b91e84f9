// The meaning check of a policy document, after its shape check (schemas.ts). Collects every
// problem, each with a JSON path into the uploaded document (`$.rules[2].then.split`) and a
// stable code an operator UI or a test can rely on:
//   invalid_shape          the zod schema rejected it (one problem per zod issue)
//   duplicate_rule_id      a rule id used twice (reported on the later rule)
//   unknown_psp            a PSP name no adapter declares (rules, fallback, fee psps)
//   weights_not_100        a weighted split whose weights do not sum to 100
//   no_fallback            the routing policy has no fallback, or an empty one
//   unreachable_rule       an earlier rule matches every payment this one would (or it matches none)
//   overlapping_rules      two rules match some payment in common, neither contains the other, and
//                          they route differently: which one applies depends on their order by
//                          accident. A later rule that strictly contains an earlier one (specific
//                          before general) is the normal pattern and is not reported.
//   uncovered_currency     a currency a rule names (currencies, amount keys) that none of its
//                          outcome PSPs takes
//   uncovered_brand        likewise for a brand the rule names
//   uncovered_capability   no outcome PSP (or no fallback PSP, for the policy's `requires`) has
//                          every capability the rule needs
//   unreachable_fee_entry  an earlier entry of the same PSP prices every payment this one would
//   fee_not_safe_integer   an entry's fee (or minimum) for the largest amount a payment may have
//                          (MAX_AMOUNT) would exceed 2^53 − 1, where integer arithmetic on a JS
//                          number stops being exact: the router would then compare and record
//                          rounded money
//   backoff_initial_above_max  the first technical backoff already exceeds the cap
//   min_calls_above_window the circuit's failure rate can never be judged (min_calls > window)
// Coverage and capability checks count only known PSPs; unknown ones are reported once, as such.
import type { z } from "zod";
import { MAX_AMOUNT } from "../../payment/core/money.ts";
import { intersects, matchesNothing, subsumes } from "./conditions.ts";
import { percentPart, percentToPpm } from "./fees.ts";
import {
  PolicyDocument,
  type Capability,
  type FeePolicy,
  type PspCapabilities,
  type RetryPolicy,
  type RoutingOutcome,
  type RoutingPolicy,
  type RoutingRule,
} from "./schemas.ts";

export type PolicyProblem = { path: string; code: string; message: string };

export type ValidationContext = { capabilities: ReadonlyMap<string, PspCapabilities> };

export type ValidationResult =
  { ok: true; policy: PolicyDocument } | { ok: false; problems: PolicyProblem[] };

/** ["rules", 2, "then", "split"] → "$.rules[2].then.split"; keys that are not identifiers are quoted. */
export function jsonPath(path: readonly PropertyKey[]): string {
  let s = "$";
  for (const seg of path) {
    if (typeof seg === "number") s += `[${seg}]`;
    else if (typeof seg === "string" && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(seg)) s += `.${seg}`;
    else s += `[${JSON.stringify(String(seg))}]`;
  }
  return s;
}

export function validatePolicy(doc: unknown, ctx: ValidationContext): ValidationResult {
  const parsed = PolicyDocument.safeParse(doc);
  if (!parsed.success) return { ok: false, problems: shapeProblems(parsed.error) };
  const policy = parsed.data;
  const problems: PolicyProblem[] = [];
  const report = (path: readonly PropertyKey[], code: string, message: string) =>
    problems.push({ path: jsonPath(path), code, message });
  switch (policy.kind) {
    case "routing":
      checkRouting(policy, ctx, report);
      break;
    case "fees":
      checkFees(policy, ctx, report);
      break;
    case "retries":
      checkRetries(policy, report);
      break;
  }
  return problems.length === 0 ? { ok: true, policy } : { ok: false, problems };
}

function shapeProblems(error: z.ZodError): PolicyProblem[] {
  return error.issues.map((i) => ({ path: jsonPath(i.path), code: "invalid_shape", message: i.message }));
}

type Report = (path: readonly PropertyKey[], code: string, message: string) => void;

// ---------------------------------------------------------------------------------------------
// Routing

function outcomePsps(o: RoutingOutcome): { psp: string; path: PropertyKey[] }[] {
  if (o.type === "weighted") return o.split.map((a, j) => ({ psp: a.psp, path: ["split", j, "psp"] }));
  return o.psps.map((psp, j) => ({ psp, path: ["psps", j] }));
}

function hasCapability(caps: PspCapabilities, need: Capability): boolean {
  return need === "three_ds" ? caps.threeDs : need === "partial_capture" ? caps.partialCapture : caps.refunds;
}

/** Two rules route alike when their outcome and extra requirements are the same. */
function routesAlike(a: RoutingRule, b: RoutingRule): boolean {
  const key = (r: RoutingRule) => JSON.stringify([r.then, [...new Set(r.requires ?? [])].sort()]);
  return key(a) === key(b);
}

function checkRouting(p: RoutingPolicy, ctx: ValidationContext, report: Report): void {
  const caps = ctx.capabilities;
  const seenIds = new Map<string, number>();
  p.rules.forEach((r, i) => {
    const first = seenIds.get(r.id);
    if (first !== undefined)
      report(["rules", i, "id"], "duplicate_rule_id", `rule id "${r.id}" is already used by rules[${first}]`);
    else seenIds.set(r.id, i);

    for (const { psp, path } of outcomePsps(r.then))
      if (!caps.has(psp)) report(["rules", i, "then", ...path], "unknown_psp", `unknown PSP "${psp}"`);

    if (r.then.type === "weighted") {
      const sum = r.then.split.reduce((a, arm) => a + arm.weight, 0);
      if (sum !== 100)
        report(["rules", i, "then", "split"], "weights_not_100", `split weights sum to ${sum}, not 100`);
    }
    checkCoverage(p, r, i, ctx, report);
  });

  if (!p.fallback || p.fallback.length === 0)
    report(["fallback"], "no_fallback", "a fallback list of PSPs is required, for payments no rule matches");
  else {
    p.fallback.forEach((psp, j) => {
      if (!caps.has(psp)) report(["fallback", j], "unknown_psp", `unknown PSP "${psp}"`);
    });
    const known = p.fallback.flatMap((psp) => caps.get(psp) ?? []);
    if (known.length > 0 && !known.some((c) => p.requires.every((n) => hasCapability(c, n))))
      report(
        ["requires"],
        "uncovered_capability",
        `no fallback PSP has every capability required (${p.requires.join(", ")})`,
      );
  }
  checkOrder(p, report);
}

function checkCoverage(p: RoutingPolicy, r: RoutingRule, i: number, ctx: ValidationContext, report: Report) {
  const names = outcomePsps(r.then).map((o) => o.psp);
  const known = [...new Set(names)].flatMap((psp) => ctx.capabilities.get(psp) ?? []);
  if (known.length === 0) return;
  const psps = `${[...new Set(names)].join(", ")}`;
  const named = new Set<string>();
  r.when.currencies?.forEach((cur, k) => {
    named.add(cur);
    if (!known.some((c) => c.currencies.includes(cur)))
      report(["rules", i, "when", "currencies", k], "uncovered_currency", `none of ${psps} takes ${cur}`);
  });
  for (const cur of Object.keys(r.when.amount ?? {})) {
    if (named.has(cur)) continue;
    if (!known.some((c) => c.currencies.includes(cur)))
      report(["rules", i, "when", "amount", cur], "uncovered_currency", `none of ${psps} takes ${cur}`);
  }
  r.when.brands?.forEach((brand, k) => {
    if (!known.some((c) => c.brands.includes(brand)))
      report(["rules", i, "when", "brands", k], "uncovered_brand", `none of ${psps} takes ${brand}`);
  });
  const needs = [...new Set([...p.requires, ...(r.requires ?? [])])];
  if (needs.length > 0 && !known.some((c) => needs.every((n) => hasCapability(c, n))))
    report(
      ["rules", i, r.requires ? "requires" : "then"],
      "uncovered_capability",
      `none of ${psps} has every capability the rule needs (${needs.join(", ")})`,
    );
}

function checkOrder(p: RoutingPolicy, report: Report): void {
  const home = p.home_country;
  const unreachable = new Set<number>();
  p.rules.forEach((r, j) => {
    if (matchesNothing(r.when, home)) {
      unreachable.add(j);
      report(
        ["rules", j],
        "unreachable_rule",
        `rule "${r.id}" matches no payment: its conditions contradict`,
      );
      return;
    }
    for (let i = 0; i < j; i++) {
      const e = p.rules[i]!;
      if (unreachable.has(i)) continue;
      if (subsumes(e.when, r.when, home)) {
        unreachable.add(j);
        report(
          ["rules", j],
          "unreachable_rule",
          `rule "${r.id}" can never match: the earlier rule "${e.id}" (rules[${i}]) matches every payment it would`,
        );
        return;
      }
    }
  });
  p.rules.forEach((r, j) => {
    if (unreachable.has(j)) return;
    for (let i = 0; i < j; i++) {
      const e = p.rules[i]!;
      if (unreachable.has(i) || routesAlike(e, r)) continue;
      if (!intersects(e.when, r.when, home) || subsumes(r.when, e.when, home)) continue;
      report(
        ["rules", j],
        "overlapping_rules",
        `rule "${r.id}" and the earlier rule "${e.id}" (rules[${i}]) both match some payments and route them differently; ` +
          `"${e.id}" wins only because it comes first. Narrow one, or make the general rule contain the specific one`,
      );
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Fees

function feeEntryCovers(a: FeePolicy["psps"][string][number], b: FeePolicy["psps"][string][number]): boolean {
  const within = (outer: readonly string[] | undefined, inner: readonly string[] | undefined) =>
    outer === undefined || (inner !== undefined && inner.every((x) => outer.includes(x)));
  return (
    within(a.schemes, b.schemes) &&
    within(a.regions, b.regions) &&
    Object.keys(b.fixed).every((cur) => Object.hasOwn(a.fixed, cur))
  );
}

function checkFees(p: FeePolicy, ctx: ValidationContext, report: Report): void {
  for (const [psp, entries] of Object.entries(p.psps)) {
    if (!ctx.capabilities.has(psp)) report(["psps", psp], "unknown_psp", `unknown PSP "${psp}"`);
    entries.forEach((b, j) => {
      const i = entries.findIndex((a, k) => k < j && feeEntryCovers(a, b));
      if (i >= 0)
        report(
          ["psps", psp, j],
          "unreachable_fee_entry",
          `the earlier entry psps.${psp}[${i}] prices every payment this entry would`,
        );
      checkFeeRange(b, ["psps", psp, j], report);
    });
  }
}

/**
 * The largest fee an entry can produce is at MAX_AMOUNT (fees grow with the amount). Checked in
 * BigInt, per currency, so a fixed part near 2^53 is caught even when the sum would round.
 */
function checkFeeRange(e: FeePolicy["psps"][string][number], at: readonly PropertyKey[], report: Report) {
  const percent = BigInt(percentPart(MAX_AMOUNT, percentToPpm(e.percent)));
  const limit = BigInt(Number.MAX_SAFE_INTEGER);
  for (const [cur, fixed] of Object.entries(e.fixed))
    if (BigInt(fixed) + percent > limit)
      report(
        [...at, "fixed", cur],
        "fee_not_safe_integer",
        `at the largest amount (${MAX_AMOUNT}) this entry's ${cur} fee would exceed ${Number.MAX_SAFE_INTEGER}, past exact integer arithmetic`,
      );
  for (const [cur, minimum] of Object.entries(e.minimum ?? {}))
    if (BigInt(minimum) > limit)
      report(
        [...at, "minimum", cur],
        "fee_not_safe_integer",
        `the ${cur} minimum exceeds ${Number.MAX_SAFE_INTEGER}`,
      );
}

// ---------------------------------------------------------------------------------------------
// Retries

function checkRetries(p: RetryPolicy, report: Report): void {
  const t = p.technical;
  if (t.backoff_initial_ms > t.backoff_max_ms)
    report(
      ["technical", "backoff_initial_ms"],
      "backoff_initial_above_max",
      `backoff_initial_ms ${t.backoff_initial_ms} exceeds backoff_max_ms ${t.backoff_max_ms}`,
    );
  if (p.circuit.min_calls > p.circuit.window)
    report(
      ["circuit", "min_calls"],
      "min_calls_above_window",
      `min_calls ${p.circuit.min_calls} exceeds the window of ${p.circuit.window}: the failure rate never opens the circuit`,
    );
}
