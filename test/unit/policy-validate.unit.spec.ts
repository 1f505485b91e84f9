// The policy validator: every problem found at once, each with a stable code and a JSON path.
import { expect } from "chai";
import { intersects, subsumes } from "../../actors/policy/core/conditions.ts";
import type { Conditions } from "../../actors/policy/core/schemas.ts";
import { jsonPath, validatePolicy, type PolicyProblem } from "../../actors/policy/core/validate.ts";
import { sandboxCapabilities } from "./policy-fixtures.ts";

const CAPS = sandboxCapabilities();
const ctx = { capabilities: CAPS };

const routing = (rules: unknown[], over: Record<string, unknown> = {}) => ({
  kind: "routing",
  home_country: "NL",
  rules,
  fallback: ["acme", "bolt"],
  ...over,
});
const priority = (...psps: string[]) => ({ type: "priority", psps });

function problems(doc: unknown): PolicyProblem[] {
  const r = validatePolicy(doc, ctx);
  if (r.ok) throw new Error("expected problems, the document validated");
  return r.problems;
}
const codesAt = (doc: unknown) => problems(doc).map((p) => [p.code, p.path]);

describe("policy validation: shape", () => {
  it("reports each schema issue as invalid_shape with its JSON path", () => {
    const ps = problems(
      routing([{ id: "a", then: { type: "priority", psps: [] } }], { home_country: "nl", extra: 1 }),
    );
    expect(ps.every((p) => p.code === "invalid_shape")).to.equal(true);
    const paths = ps.map((p) => p.path);
    expect(paths).to.include("$.home_country");
    expect(paths).to.include("$.rules[0].then.psps");
  });

  it("rejects a document of no known kind", () => {
    expect(problems({ kind: "nope" })[0]).to.deep.include({ code: "invalid_shape" });
  });

  it("writes paths with indexes in brackets and quotes keys that are not identifiers", () => {
    expect(jsonPath([])).to.equal("$");
    expect(jsonPath(["rules", 2, "then", "split"])).to.equal("$.rules[2].then.split");
    expect(jsonPath(["psps", "my-psp", 0])).to.equal('$.psps["my-psp"][0]');
  });

  it("answers the parsed document, defaults filled in, when it is sound", () => {
    const r = validatePolicy(routing([{ id: "a", when: { brands: ["amex"] }, then: priority("acme") }]), ctx);
    expect(r.ok).to.equal(true);
    if (r.ok && r.policy.kind === "routing") expect(r.policy.requires).to.deep.equal([]);
  });
});

describe("policy validation: routing meaning", () => {
  it("reports a PSP no adapter declares, wherever it is named", () => {
    expect(
      codesAt(
        routing(
          [
            { id: "a", when: { currencies: ["USD"] }, then: priority("acme", "ghost") },
            {
              id: "b",
              when: { currencies: ["GBP"] },
              then: {
                type: "weighted",
                split: [
                  { psp: "phantom", weight: 50 },
                  { psp: "bolt", weight: 50 },
                ],
              },
            },
          ],
          { fallback: ["spectre", "acme"] },
        ),
      ),
    ).to.deep.equal([
      ["unknown_psp", "$.rules[0].then.psps[1]"],
      ["unknown_psp", "$.rules[1].then.split[0].psp"],
      ["unknown_psp", "$.fallback[0]"],
    ]);
  });

  it("reports a duplicate rule id on the later rule", () => {
    expect(
      codesAt(
        routing([
          { id: "a", when: { currencies: ["USD"] }, then: priority("acme") },
          { id: "a", when: { currencies: ["GBP"] }, then: priority("acme") },
        ]),
      ),
    ).to.deep.equal([["duplicate_rule_id", "$.rules[1].id"]]);
  });

  it("reports a weighted split whose weights do not sum to 100", () => {
    const ps = problems(
      routing([
        {
          id: "w",
          then: {
            type: "weighted",
            split: [
              { psp: "acme", weight: 60 },
              { psp: "bolt", weight: 30 },
            ],
          },
        },
      ]),
    );
    expect(ps).to.deep.equal([
      { path: "$.rules[0].then.split", code: "weights_not_100", message: "split weights sum to 90, not 100" },
    ]);
  });

  it("requires a non-empty fallback", () => {
    expect(codesAt(routing([], { fallback: undefined }))).to.deep.equal([["no_fallback", "$.fallback"]]);
    expect(codesAt(routing([], { fallback: [] }))).to.deep.equal([["no_fallback", "$.fallback"]]);
  });

  it("reports a rule an earlier rule shadows, naming that earlier rule", () => {
    const ps = problems(
      routing([
        { id: "eur", when: { currencies: ["EUR", "USD"] }, then: priority("acme") },
        { id: "eur-visa", when: { currencies: ["EUR"], brands: ["visa"] }, then: priority("bolt") },
      ]),
    );
    expect(ps).to.have.length(1);
    expect(ps[0]).to.deep.include({ code: "unreachable_rule", path: "$.rules[1]" });
    expect(ps[0]!.message).to.contain('"eur"');
  });

  it("reports a rule whose conditions contradict each other as unreachable", () => {
    expect(
      codesAt(
        routing([
          { id: "never", when: { currencies: ["EUR"], amount: { USD: { min: 1 } } }, then: priority("acme") },
        ]),
      ),
    ).to.deep.equal([["unreachable_rule", "$.rules[0]"]]);
  });

  it("sees that a domestic-only rule shadows a rule for home-country BINs", () => {
    expect(
      codesAt(
        routing([
          { id: "dom", when: { regions: ["domestic"] }, then: priority("acme") },
          { id: "nl", when: { bin_countries: ["NL"] }, then: priority("bolt") },
        ]),
      ),
    ).to.deep.equal([["unreachable_rule", "$.rules[1]"]]);
  });

  it("reports overlapping rules that route differently, but not specific-before-general or same routing", () => {
    expect(
      codesAt(
        routing([
          { id: "eur", when: { currencies: ["EUR"] }, then: priority("acme") },
          { id: "visa", when: { brands: ["visa"] }, then: priority("bolt") },
        ]),
      ),
    ).to.deep.equal([["overlapping_rules", "$.rules[1]"]]);
    const specificFirst = routing([
      { id: "eur-visa", when: { currencies: ["EUR"], brands: ["visa"] }, then: priority("bolt") },
      { id: "eur", when: { currencies: ["EUR"] }, then: priority("acme") },
    ]);
    expect(validatePolicy(specificFirst, ctx).ok).to.equal(true);
    const sameRoute = routing([
      { id: "eur", when: { currencies: ["EUR"] }, then: priority("acme") },
      { id: "visa", when: { brands: ["visa"] }, then: priority("acme") },
    ]);
    expect(validatePolicy(sameRoute, ctx).ok).to.equal(true);
  });

  it("reports a currency or brand a rule names that none of its PSPs takes", () => {
    expect(
      codesAt(
        routing([
          {
            id: "x",
            when: {
              currencies: ["EUR", "SEK"],
              amount: { NOK: { min: 1 }, SEK: { min: 1 } },
              brands: ["amex", "visa"],
            },
            then: priority("bolt"),
          },
        ]),
      ),
    ).to.deep.equal([
      ["uncovered_currency", "$.rules[0].when.currencies[1]"],
      ["uncovered_currency", "$.rules[0].when.amount.NOK"],
      ["uncovered_brand", "$.rules[0].when.brands[0]"],
    ]);
  });

  it("reports a capability a rule needs that none of its PSPs has", () => {
    const caps = new Map(CAPS);
    caps.set("lite", {
      currencies: ["EUR"],
      brands: ["visa"],
      threeDs: false,
      partialCapture: false,
      refunds: false,
    });
    const r = validatePolicy(
      routing([{ id: "x", when: { currencies: ["EUR"] }, requires: ["three_ds"], then: priority("lite") }]),
      { capabilities: caps },
    );
    expect(r.ok ? [] : r.problems.map((p) => [p.code, p.path])).to.deep.equal([
      ["uncovered_capability", "$.rules[0].requires"],
    ]);
  });

  it("reports every problem of a document together", () => {
    const codes = codesAt(
      routing(
        [
          { id: "a", when: { currencies: ["EUR"] }, then: priority("ghost") },
          { id: "a", when: { currencies: ["EUR"] }, then: priority("acme") },
          {
            id: "w",
            when: { currencies: ["JPY"] },
            then: { type: "weighted", split: [{ psp: "acme", weight: 99 }] },
          },
        ],
        { fallback: [] },
      ),
    ).map(([code]) => code);
    expect(codes).to.include.members([
      "duplicate_rule_id",
      "unknown_psp",
      "weights_not_100",
      "uncovered_currency",
      "no_fallback",
      "unreachable_rule",
    ]);
  });
});

describe("policy validation: fees and retries", () => {
  it("reports a fee schedule for a PSP no adapter declares, and an entry an earlier one shadows", () => {
    expect(
      codesAt({
        kind: "fees",
        psps: {
          acme: [
            { fixed: { EUR: 25 }, percent: "1.4" },
            { schemes: ["visa"], fixed: { EUR: 10 }, percent: "1" },
          ],
          ghost: [{ fixed: { EUR: 25 }, percent: "1.4" }],
        },
      }),
    ).to.deep.equal([
      ["unreachable_fee_entry", "$.psps.acme[1]"],
      ["unknown_psp", "$.psps.ghost"],
    ]);
  });

  it("reports fee terms whose fee at the largest amount would leave the safe integers", () => {
    const entry = { fixed: { EUR: Number.MAX_SAFE_INTEGER, USD: 25 }, percent: "99.9999" };
    expect(codesAt({ kind: "fees", psps: { acme: [entry] } })).to.deep.equal([
      ["fee_not_safe_integer", "$.psps.acme[0].fixed.EUR"],
    ]);
    expect(
      codesAt({
        kind: "fees",
        psps: { bolt: [{ fixed: { EUR: 0 }, percent: "1", minimum: { EUR: Number.MAX_SAFE_INTEGER + 1 } }] },
      }),
    ).to.deep.include(["invalid_shape", "$.psps.bolt[0].minimum.EUR"]);
    // The steepest sane terms still pass: 99.9999 % of MAX_AMOUNT plus a large fixed part.
    const steep = { kind: "fees", psps: { acme: [{ fixed: { EUR: 1_000_000_000 }, percent: "99.9999" }] } };
    expect(validatePolicy(steep, ctx).ok).to.equal(true);
  });

  it("reports backoff and circuit settings that can never take effect", () => {
    expect(
      codesAt({
        kind: "retries",
        technical: { backoff_initial_ms: 2000, backoff_max_ms: 1000 },
        circuit: { window: 10, min_calls: 20 },
      }),
    ).to.deep.equal([
      ["backoff_initial_above_max", "$.technical.backoff_initial_ms"],
      ["min_calls_above_window", "$.circuit.min_calls"],
    ]);
  });
});

describe("condition set logic", () => {
  const home = "NL";
  const c = (x: Conditions) => x;

  it("decides containment per currency on amount ranges", () => {
    const big = c({ amount: { EUR: { min: 100 }, USD: { min: 1 } } });
    const bigger = c({ amount: { EUR: { min: 1000, max: 5000 } } });
    expect(subsumes(big, bigger, home)).to.equal(true);
    expect(subsumes(bigger, big, home)).to.equal(false);
    expect(subsumes(c({ currencies: ["EUR"] }), bigger, home)).to.equal(true);
    expect(subsumes(bigger, c({ currencies: ["EUR"] }), home)).to.equal(false);
    expect(intersects(c({ amount: { EUR: { max: 99 } } }), bigger, home)).to.equal(false);
    expect(subsumes(c({ amount: { EUR: { min: 0 } } }), c({ currencies: ["EUR"] }), home)).to.equal(true);
  });

  it("knows that listing every brand or both captures is no condition at all", () => {
    const all = c({ brands: ["visa", "mastercard", "amex", "discover", "unknown"] });
    expect(subsumes(all, {}, home)).to.equal(true);
    expect(subsumes(c({ capture: "manual" }), {}, home)).to.equal(false);
  });

  it("couples regions with BIN countries through the home country", () => {
    expect(subsumes(c({ regions: ["intra_eea"] }), c({ bin_countries: ["DE", "NO"] }), home)).to.equal(true);
    expect(intersects(c({ regions: ["international"] }), c({ bin_countries: ["DE"] }), home)).to.equal(false);
    expect(subsumes(c({ regions: ["domestic", "intra_eea", "international"] }), {}, home)).to.equal(true);
    expect(subsumes(c({ bin_countries: ["US"] }), c({ regions: ["domestic"] }), "US")).to.equal(true);
  });

  it("treats a required metadata value as a special case of the key being present", () => {
    const present = c({ metadata: { tier: true } });
    const vip = c({ metadata: { tier: "vip" } });
    expect(subsumes(present, vip, home)).to.equal(true);
    expect(subsumes(vip, present, home)).to.equal(false);
    expect(intersects(vip, c({ metadata: { tier: "basic" } }), home)).to.equal(false);
    expect(intersects(vip, c({ metadata: { other: "x" } }), home)).to.equal(true);
  });
});
