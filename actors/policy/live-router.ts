// The router at the actor edge: reads the active policies and PSP health as they are now, asks the
// pure router for a decision, evaluates the shadow routing policy beside it, and keeps the shadow
// statistics operators read. The decision it returns is recorded in the payment's events; nothing
// here is consulted again for that payment.
import type { CreatePayment } from "../payment/core/commands.ts";
import {
  expectedFeeOf,
  type PaymentFacts,
  type PspHealth,
  type RoutingDecision,
  type Versioned,
} from "./core/decision.ts";
import type { ShadowReport, ShadowSample } from "./core/reports.ts";
import { decideRoute, evaluateShadow } from "./core/router.ts";
import type { PolicyKind, PolicyOf, PspCapabilities, RoutingPolicy } from "./core/schemas.ts";

/** What the router needs of the policy store's live view. */
export type ActivePolicies = {
  active<K extends PolicyKind>(kind: K): Versioned<PolicyOf<K>>;
  shadow(): Versioned<RoutingPolicy> | undefined;
  /** PSPs operators forced out of rotation. */
  forcedOut(): ReadonlySet<string>;
};

export type RoutingObserver = {
  routed(d: RoutingDecision): void;
};

const SAMPLES_KEPT = 20;

export class LiveRouter {
  readonly #policies: ActivePolicies;
  readonly #health: () => ReadonlyMap<string, PspHealth>;
  readonly #capabilities: ReadonlyMap<string, PspCapabilities>;
  readonly #observer: RoutingObserver | undefined;
  /** Shadow statistics per shadow routing version, since this worker started. */
  readonly #shadow = new Map<number, ShadowReport>();

  constructor(o: {
    policies: ActivePolicies;
    health: () => ReadonlyMap<string, PspHealth>;
    capabilities: ReadonlyMap<string, PspCapabilities>;
    observer?: RoutingObserver;
  }) {
    this.#policies = o.policies;
    this.#health = o.health;
    this.#capabilities = o.capabilities;
    this.#observer = o.observer;
  }

  route(c: CreatePayment): RoutingDecision {
    const input = {
      facts: factsOf(c),
      routing: this.#policies.active("routing"),
      fees: this.#policies.active("fees"),
      retries: this.#policies.active("retries"),
      capabilities: this.#capabilities,
      health: this.#currentHealth(),
    };
    const decision = decideRoute(input);
    const shadow = this.#policies.shadow();
    if (!shadow || shadow.version === input.routing.version) return decision;
    return { ...decision, shadow: evaluateShadow(decision, input, shadow) };
  }

  /**
   * The connector actors' health, with the store's rotation overrides applied here too: an operator's
   * "out" holds from the moment the store has it, not only once each actor has heard of it.
   */
  #currentHealth(): ReadonlyMap<string, PspHealth> {
    const out = this.#policies.forcedOut();
    const health = this.#health();
    if (out.size === 0) return health;
    const merged = new Map(health);
    for (const psp of out) {
      const h = merged.get(psp) ?? {
        circuit: "closed" as const,
        successRate: 0,
        samples: 0,
        forcedOut: true,
      };
      merged.set(psp, { ...h, forcedOut: true });
    }
    return merged;
  }

  /** Called once the decision is recorded: counts it, and its shadow divergence. */
  recorded(c: CreatePayment, d: RoutingDecision): void {
    this.#observer?.routed(d);
    const s = d.shadow;
    if (!s) return;
    let report = this.#shadow.get(s.routingVersion);
    if (!report) {
      report = {
        version: s.routingVersion,
        activeVersions: [],
        decisions: 0,
        divergedPsp: 0,
        divergedFee: 0,
        samples: [],
      };
      this.#shadow.set(s.routingVersion, report);
    }
    if (!report.activeVersions.includes(d.policyVersions.routing))
      report.activeVersions.push(d.policyVersions.routing);
    report.decisions++;
    if (s.divergedPsp) report.divergedPsp++;
    if (s.divergedFee) report.divergedFee++;
    if (s.divergedPsp || s.divergedFee) {
      const first = d.order[0] ?? null;
      const sample: ShadowSample = {
        paymentId: c.paymentId,
        at: c.at,
        active: {
          psp: first,
          expectedFee: expectedFeeOf(d, first),
          ruleId: d.ruleId,
        },
        shadow: { psp: s.psp, expectedFee: s.expectedFee, ruleId: s.ruleId },
      };
      report.samples = [sample, ...report.samples].slice(0, SAMPLES_KEPT);
    }
  }

  /** The statistics of the current shadow version only: a dropped or promoted one is forgotten. */
  shadowReports(): ShadowReport[] {
    const current = this.#policies.shadow()?.version;
    for (const v of this.#shadow.keys()) if (v !== current) this.#shadow.delete(v);
    return [...this.#shadow.values()].map((r) => ({ ...r, samples: [...r.samples] }));
  }
}

export function factsOf(c: CreatePayment): PaymentFacts {
  return {
    paymentId: c.paymentId,
    merchantId: c.merchantId,
    amount: c.amount,
    currency: c.currency,
    brand: c.card.brand,
    binCountry: c.card.binCountry,
    capture: c.capture,
    metadata: c.metadata ?? {},
  };
}
