// The router as a specification: a payment's facts and the policies in, the decision out.
import { expect } from "chai";
import type { PaymentFacts, PspHealth, RoutingInput } from "../../actors/policy/core/decision.ts";
import { RoutingDecision } from "../../actors/policy/core/decision.ts";
import { retryTermsOf } from "../../actors/policy/core/retry.ts";
import { SUCCESS_RATE_PRIOR, decideRoute, evaluateShadow } from "../../actors/policy/core/router.ts";
import { FeePolicy, RetryPolicy, RoutingPolicy, type RoutingRule } from "../../actors/policy/core/schemas.ts";
import { sandboxCapabilities } from "./policy-fixtures.ts";

const CAPS = sandboxCapabilities({
  cobalt: { currencies: ["EUR"], brands: ["visa"], threeDs: false, partialCapture: false, refunds: false },
});

const FEES = FeePolicy.parse({
  kind: "fees",
  psps: {
    acme: [{ fixed: { EUR: 25, USD: 30 }, percent: "1.4" }],
    bolt: [{ fixed: { EUR: 20, USD: 25 }, percent: "1.2" }],
    cobalt: [{ fixed: { EUR: 0 }, percent: "1" }],
  },
});
const RETRIES = RetryPolicy.parse({ kind: "retries" });

function facts(over: Partial<PaymentFacts> = {}): PaymentFacts {
  return {
    paymentId: "pay_1",
    merchantId: "m_1",
    amount: 4990,
    currency: "EUR",
    brand: "visa",
    binCountry: "NL",
    capture: "automatic",
    metadata: {},
    ...over,
  };
}

function routing(rules: unknown[], over: Record<string, unknown> = {}): RoutingPolicy {
  return RoutingPolicy.parse({
    kind: "routing",
    home_country: "NL",
    rules,
    fallback: ["acme", "bolt"],
    ...over,
  });
}

function input(
  policy: RoutingPolicy,
  f: Partial<PaymentFacts> = {},
  health: Record<string, Partial<PspHealth>> = {},
): RoutingInput {
  return {
    facts: facts(f),
    routing: { version: 7, policy },
    fees: { version: 3, policy: FEES },
    retries: { version: 2, policy: RETRIES },
    capabilities: CAPS,
    health: new Map(
      Object.entries(health).map(([psp, h]) => [
        psp,
        { circuit: "closed", forcedOut: false, successRate: 0, samples: 0, ...h },
      ]),
    ),
  };
}

const rule = (id: string, when: unknown, then: unknown, extra: Partial<RoutingRule> = {}) => ({
  id,
  when,
  then,
  ...extra,
});

describe("router: rules", () => {
  it("uses the fallback list when no rule matches, and says so", () => {
    const d = decideRoute(
      input(routing([rule("usd", { currencies: ["USD"] }, { type: "priority", psps: ["bolt"] })])),
    );
    expect(d.ruleId).to.equal(null);
    expect(d.ruleIndex).to.equal(null);
    expect(d.strategy).to.equal("fallback");
    expect(d.reason).to.equal("no rule matched; fallback");
    expect(d.order).to.deep.equal(["acme", "bolt"]);
    expect(d.candidates.map((c) => c.score)).to.deep.equal([0, 1]);
  });

  it("applies the first matching rule in order and explains the match with the payment's values", () => {
    const p = routing([
      rule("gbp", { currencies: ["GBP"] }, { type: "priority", psps: ["acme"] }),
      rule("eur-large", { amount: { EUR: { min: 100000 } } }, { type: "priority", psps: ["bolt", "acme"] }),
      rule("eur", { currencies: ["EUR"] }, { type: "priority", psps: ["acme"] }),
    ]);
    const d = decideRoute(input(p, { amount: 150000 }));
    expect(d.ruleId).to.equal("eur-large");
    expect(d.ruleIndex).to.equal(1);
    expect(d.strategy).to.equal("priority");
    expect(d.reason).to.equal('rule "eur-large" matched: currency EUR, amount 150000 in [100000, ∞)');
    expect(d.order).to.deep.equal(["bolt", "acme"]);
    expect(decideRoute(input(p, { amount: 99999 })).ruleId).to.equal("eur");
  });

  it("judges the region from the BIN country and the home country, unknown countries being international", () => {
    const p = routing([
      rule("dom", { regions: ["domestic"] }, { type: "priority", psps: ["bolt"] }),
      rule("eea", { regions: ["intra_eea"] }, { type: "priority", psps: ["acme"] }),
      rule("intl", { regions: ["international"] }, { type: "priority", psps: ["bolt", "acme"] }),
    ]);
    expect(decideRoute(input(p, { binCountry: "NL" })).ruleId).to.equal("dom");
    expect(decideRoute(input(p, { binCountry: "DE" })).ruleId).to.equal("eea");
    expect(decideRoute(input(p, { binCountry: "US" })).ruleId).to.equal("intl");
    expect(decideRoute(input(p, { binCountry: null })).ruleId).to.equal("intl");
  });

  it("matches metadata by exact value, or by presence when the rule says true", () => {
    const p = routing([
      rule("vip", { metadata: { tier: "vip" } }, { type: "priority", psps: ["bolt"] }),
      rule("tagged", { metadata: { campaign: true } }, { type: "priority", psps: ["acme"] }),
    ]);
    expect(decideRoute(input(p, { metadata: { tier: "vip" } })).ruleId).to.equal("vip");
    expect(decideRoute(input(p, { metadata: { tier: "basic" } })).ruleId).to.equal(null);
    expect(decideRoute(input(p, { metadata: { campaign: "" } })).ruleId).to.equal("tagged");
  });

  it("records the three policy versions and the retry terms of the retry policy", () => {
    const d = decideRoute(input(routing([])));
    expect(d.policyVersions).to.deep.equal({ routing: 7, fees: 3, retries: 2 });
    expect(d.retry).to.deep.equal(retryTermsOf(RETRIES));
    expect(() => RoutingDecision.parse(d)).not.to.throw();
  });
});

describe("router: eligibility wins over rules", () => {
  it("excludes a PSP that cannot take the currency, the brand or a required capability, with each reason", () => {
    const p = routing([rule("all", {}, { type: "priority", psps: ["cobalt", "bolt", "acme"] })], {
      requires: ["refunds"],
    });
    const d = decideRoute(input(p, { brand: "amex", currency: "USD", capture: "manual" }));
    const cobalt = d.candidates.find((c) => c.psp === "cobalt")!;
    expect(cobalt.eligible).to.equal(false);
    expect(cobalt.excluded).to.deep.equal([
      "currency USD not supported",
      "brand amex not supported",
      "capability refunds not supported",
      "capability partial_capture not supported",
    ]);
    expect(d.candidates.find((c) => c.psp === "bolt")!.excluded).to.deep.equal(["brand amex not supported"]);
    expect(d.order).to.deep.equal(["acme"]);
  });

  it("needs partial capture only for a manual capture", () => {
    const p = routing([rule("c", {}, { type: "priority", psps: ["cobalt", "acme"] })]);
    expect(decideRoute(input(p, { capture: "automatic" })).order[0]).to.equal("cobalt");
    expect(decideRoute(input(p, { capture: "manual" })).order[0]).to.equal("acme");
  });

  it("adds a matched rule's requires to the policy's", () => {
    const p = routing([
      rule("3ds", {}, { type: "priority", psps: ["cobalt", "bolt"] }, { requires: ["three_ds"] }),
    ]);
    const d = decideRoute(input(p));
    expect(d.order).to.deep.equal(["bolt", "acme"]);
    expect(d.candidates[0]!.excluded).to.deep.equal(["capability three_ds not supported"]);
  });

  it("treats a PSP without declared capabilities as unknown and ineligible", () => {
    const d = decideRoute(input(routing([rule("x", {}, { type: "priority", psps: ["ghost", "bolt"] })])));
    expect(d.candidates[0]).to.deep.include({ psp: "ghost", eligible: false, excluded: ["unknown PSP"] });
    expect(d.order).to.deep.equal(["bolt", "acme"]);
  });

  it("skips forced-out PSPs and open circuits but routes to a half-open one", () => {
    const p = routing([]);
    const d = decideRoute(input(p, {}, { acme: { forcedOut: true, circuit: "open" } }));
    expect(d.order).to.deep.equal(["bolt"]);
    expect(d.candidates[0]).to.deep.include({
      psp: "acme",
      eligible: true,
      excluded: ["forced out of rotation", "circuit open"],
      circuit: "open",
    });
    expect(decideRoute(input(p, {}, { acme: { circuit: "half_open" } })).order).to.deep.equal([
      "acme",
      "bolt",
    ]);
  });

  it("excludes a PSP whose expected fee is not a safe integer, recording no fee for it", () => {
    // A stored fee policy validation would refuse today (fixed 2^53 − 1 plus a percentage).
    const fees = FeePolicy.parse({
      kind: "fees",
      psps: {
        acme: [{ fixed: { EUR: Number.MAX_SAFE_INTEGER }, percent: "99.9999" }],
        bolt: [{ fixed: { EUR: 20 }, percent: "1.2" }],
      },
    });
    const d = decideRoute({ ...input(routing([])), fees: { version: 4, policy: fees } });
    expect(d.order).to.deep.equal(["bolt"]);
    expect(d.candidates[0]).to.deep.include({
      psp: "acme",
      eligible: false,
      expectedFee: null,
      excluded: ["expected fee is not a safe integer"],
    });
    expect(d.candidates.every((c) => c.expectedFee === null || Number.isSafeInteger(c.expectedFee))).to.equal(
      true,
    );
    expect(() => RoutingDecision.parse(d)).not.to.throw();
  });

  it("answers an empty order when nothing is routable, still listing every candidate", () => {
    const d = decideRoute(input(routing([]), { currency: "ISK" }));
    expect(d.order).to.deep.equal([]);
    expect(d.candidates.map((c) => c.psp)).to.deep.equal(["acme", "bolt"]);
    expect(d.reason).to.match(/no PSP can take the payment/);
  });

  it("cascades to the fallback's routable PSPs after the outcome's, without repeating any", () => {
    const p = routing([rule("b", {}, { type: "priority", psps: ["bolt"] })], {
      fallback: ["acme", "bolt", "cobalt"],
    });
    const d = decideRoute(input(p));
    expect(d.order).to.deep.equal(["bolt", "acme", "cobalt"]);
    expect(d.candidates.map((c) => [c.psp, c.score])).to.deep.equal([
      ["bolt", 0],
      ["acme", null],
      ["cobalt", null],
    ]);
  });
});

describe("router: outcomes", () => {
  const split = (a: number, b: number) =>
    routing([
      rule(
        "ab",
        {},
        {
          type: "weighted",
          split: [
            { psp: "acme", weight: a },
            { psp: "bolt", weight: b },
          ],
        },
      ),
    ]);

  it("keeps a payment in its weighted arm: the order is a function of the payment id", () => {
    const p = split(50, 50);
    for (let i = 0; i < 50; i++) {
      const id = `pay_${i}`;
      expect(decideRoute(input(p, { paymentId: id }))).to.deep.equal(
        decideRoute(input(p, { paymentId: id })),
      );
    }
    const firsts = new Set(
      Array.from({ length: 50 }, (_, i) => decideRoute(input(p, { paymentId: `pay_${i}` })).order[0]),
    );
    expect([...firsts].sort()).to.deep.equal(["acme", "bolt"]);
  });

  it("scores weighted arms by weight and never sends first to a 0-weight arm", () => {
    for (let i = 0; i < 100; i++) {
      const d = decideRoute(input(split(100, 0), { paymentId: `p${i}` }));
      expect(d.order).to.deep.equal(["acme", "bolt"]);
      expect(d.candidates.map((c) => c.score)).to.deep.equal([100, 0]);
    }
  });

  it("moves only the payments of an arm that is down, leaving the others in their arm", () => {
    const p = routing([
      rule(
        "abc",
        {},
        {
          type: "weighted",
          split: [
            { psp: "acme", weight: 40 },
            { psp: "bolt", weight: 30 },
            { psp: "cobalt", weight: 30 },
          ],
        },
      ),
    ]);
    for (let i = 0; i < 300; i++) {
      const healthy = decideRoute(input(p, { paymentId: `p${i}` })).order[0];
      const boltDown = decideRoute(input(p, { paymentId: `p${i}` }, { bolt: { circuit: "open" } })).order[0];
      if (healthy !== "bolt") expect(boltDown).to.equal(healthy);
      else expect(boltDown).to.be.oneOf(["acme", "cobalt"]);
    }
  });

  it("orders least_cost by expected fee, a PSP without a price last, ties in list order", () => {
    const p = routing([rule("lc", {}, { type: "least_cost", psps: ["ghost", "acme", "bolt"] })], {
      fallback: ["acme"],
    });
    const d = decideRoute(input(p, { amount: 10000 }));
    // acme 25 + 140, bolt 20 + 120
    expect(d.candidates.map((c) => [c.psp, c.score])).to.deep.equal([
      ["bolt", 140],
      ["acme", 165],
      ["ghost", null],
    ]);
    expect(d.order).to.deep.equal(["bolt", "acme"]);
    const tie = FeePolicy.parse({
      kind: "fees",
      psps: { acme: [{ fixed: { EUR: 10 }, percent: "1" }], bolt: [{ fixed: { EUR: 10 }, percent: "1" }] },
    });
    const p2 = routing([rule("lc", {}, { type: "least_cost", psps: ["bolt", "acme"] })]);
    expect(decideRoute({ ...input(p2), fees: { version: 1, policy: tie } }).order).to.deep.equal([
      "bolt",
      "acme",
    ]);
  });

  it("gives every candidate its expected fee for this amount, brand and region", () => {
    const d = decideRoute(input(routing([]), { amount: 10000 }));
    expect(d.candidates.map((c) => c.expectedFee)).to.deep.equal([165, 140]);
  });

  it("ranks best_success_rate by trusted rates, scoring PSPs with too few samples as the prior", () => {
    const p = routing([
      rule("bsr", {}, { type: "best_success_rate", psps: ["acme", "bolt"], exploration: 0, min_samples: 20 }),
    ]);
    const trusted = decideRoute(
      input(p, {}, { acme: { successRate: 0.8, samples: 100 }, bolt: { successRate: 0.9, samples: 100 } }),
    );
    expect(trusted.order).to.deep.equal(["bolt", "acme"]);
    expect(trusted.candidates.map((c) => c.score)).to.deep.equal([0.9, 0.8]);
    const young = decideRoute(
      input(p, {}, { acme: { successRate: 0.6, samples: 100 }, bolt: { successRate: 1, samples: 5 } }),
    );
    expect(young.order).to.deep.equal(["acme", "bolt"]);
    expect(young.candidates.map((c) => c.score)).to.deep.equal([0.6, SUCCESS_RATE_PRIOR]);
  });

  it("explores a non-best PSP for about the exploration share of payments, chosen by the payment id", () => {
    const p = routing([
      rule(
        "bsr",
        {},
        { type: "best_success_rate", psps: ["acme", "bolt"], exploration: 0.2, min_samples: 1 },
      ),
    ]);
    const h = { acme: { successRate: 0.95, samples: 100 }, bolt: { successRate: 0.5, samples: 100 } };
    let explored = 0;
    for (let i = 0; i < 5000; i++) {
      const d = decideRoute(input(p, { paymentId: `pay_${i}` }, h));
      if (d.order[0] === "bolt") {
        explored++;
        expect(d.reason).to.match(/exploring bolt instead of acme/);
      }
    }
    expect(explored / 5000).to.be.within(0.18, 0.22);
  });

  it("never explores towards a PSP that is not routable", () => {
    const p = routing([
      rule(
        "bsr",
        {},
        { type: "best_success_rate", psps: ["acme", "bolt"], exploration: 0.5, min_samples: 1 },
      ),
    ]);
    for (let i = 0; i < 200; i++) {
      const d = decideRoute(input(p, { paymentId: `pay_${i}` }, { bolt: { forcedOut: true } }));
      expect(d.order).to.deep.equal(["acme"]);
    }
  });
});

describe("router: shadow evaluation", () => {
  it("reports whether a shadow policy would pick another PSP or expect another fee", () => {
    const active = routing([]);
    const i = input(active, { amount: 10000 });
    const d = decideRoute(i);
    const same = evaluateShadow(d, i, { version: 8, policy: routing([]) });
    expect(same).to.deep.equal({
      routingVersion: 8,
      ruleId: null,
      psp: "acme",
      expectedFee: 165,
      divergedPsp: false,
      divergedFee: false,
    });
    const cheaper = routing([rule("lc", {}, { type: "least_cost", psps: ["acme", "bolt"] })]);
    expect(evaluateShadow(d, i, { version: 9, policy: cheaper })).to.deep.equal({
      routingVersion: 9,
      ruleId: "lc",
      psp: "bolt",
      expectedFee: 140,
      divergedPsp: true,
      divergedFee: true,
    });
  });
});
