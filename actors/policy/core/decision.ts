// What the router is given and what it answers. Plain JSON: a RoutingDecision is recorded as it is
// in the payment's PaymentRouted event, so a replay reads the decision and never routes again.
import { z } from "zod";
import type { FeePolicy, PspCapabilities, Region, RetryPolicy, RoutingPolicy, Versioned } from "./schemas.ts";

/** The facts of a payment the router may look at. No card number: brand and BIN country only. */
export type PaymentFacts = {
  paymentId: string;
  merchantId: string;
  amount: number;
  currency: string;
  brand: string;
  binCountry: string | null;
  capture: "automatic" | "manual";
  metadata: Readonly<Record<string, string>>;
};

export const CircuitState = { closed: "closed", open: "open", halfOpen: "half_open" } as const;
export type CircuitState = (typeof CircuitState)[keyof typeof CircuitState];

/** One PSP's health as the router sees it at decision time. Missing PSP = closed, no samples. */
export type PspHealth = {
  circuit: CircuitState;
  /** Forced out of rotation by an operator: never routed to, whatever its circuit says. */
  forcedOut: boolean;
  /** Successes / outcomes in the rolling window, and how many outcomes that is. */
  successRate: number;
  samples: number;
};

export type { Versioned };

export type RoutingInput = {
  facts: PaymentFacts;
  routing: Versioned<RoutingPolicy>;
  fees: Versioned<FeePolicy>;
  retries: Versioned<RetryPolicy>;
  capabilities: ReadonlyMap<string, PspCapabilities>;
  health: ReadonlyMap<string, PspHealth>;
};

/** An expected fee in minor units of the payment's currency; null when the fee policy has no price. */
export const ExpectedFee = z.number().int().nonnegative().nullable();

/** The fee terms the expected fee was computed on (fees.ts FeeTerms): fixed, parts per million, minimum. */
export const FeeTerms = z.object({
  fixed: z.number().int().nonnegative(),
  ppm: z.number().int().nonnegative(),
  minimum: z.number().int().nonnegative(),
});
export type FeeTerms = z.infer<typeof FeeTerms>;

export const Candidate = z.object({
  psp: z.string(),
  eligible: z.boolean(),
  /** Why a PSP is out: "currency EUR not supported", "circuit open", "forced out", ... */
  excluded: z.array(z.string()),
  /** The outcome's score: weight, expected fee, success rate, or list position. */
  score: z.number().nullable(),
  expectedFee: ExpectedFee,
  /** What expectedFee was computed from, to price a partial capture; absent when unpriced (and before it was recorded). */
  feeTerms: FeeTerms.optional(),
  circuit: z.string(),
});
export type Candidate = z.infer<typeof Candidate>;

/** The retry parameters the payment keeps for its whole life, copied from the retry policy. */
export const RetryTerms = z.object({
  cascadeOn: z.array(z.enum(["soft_decline", "technical"])),
  maxAttempts: z.number().int().min(1),
  samePspRetries: z.number().int().min(0),
  backoffInitialMs: z.number().int().min(0),
  backoffMultiplier: z.number().min(1),
  backoffMaxMs: z.number().int().min(0),
  /** Where an `auth_required` decline steps up to 3-D Secure; absent (decisions before it, or `never`): it declines. */
  stepUp: z.enum(["same_psp", "next_psp"]).optional(),
});
export type RetryTerms = z.infer<typeof RetryTerms>;

/** The evaluation of a candidate routing policy beside the active one: recorded, never acted on. */
export const ShadowResult = z.object({
  routingVersion: z.number().int(),
  ruleId: z.string().nullable(),
  psp: z.string().nullable(),
  expectedFee: ExpectedFee,
  divergedPsp: z.boolean(),
  divergedFee: z.boolean(),
});
export type ShadowResult = z.infer<typeof ShadowResult>;

export const RoutingDecision = z.object({
  policyVersions: z.object({
    routing: z.number().int(),
    fees: z.number().int(),
    retries: z.number().int(),
  }),
  /** The rule that matched (null: none did, the fallback applied) and why, in words. */
  ruleId: z.string().nullable(),
  ruleIndex: z.number().int().nullable(),
  reason: z.string(),
  /** The outcome type that ordered the candidates: priority, weighted, least_cost, best_success_rate, fallback. */
  strategy: z.string(),
  /** Every PSP considered, eligible or not, with its score. */
  candidates: z.array(Candidate),
  /** The PSPs to try, in order: eligible, not open, not forced out. Empty: the payment fails (no_route). */
  order: z.array(z.string()),
  retry: RetryTerms,
  shadow: ShadowResult.optional(),
});
export type RoutingDecision = z.infer<typeof RoutingDecision>;

/** The expected fee the decision gave a PSP; null when unpriced or not a candidate (or no decision). */
export function expectedFeeOf(d: RoutingDecision | undefined, psp: string | null): number | null {
  return d?.candidates.find((k) => k.psp === psp)?.expectedFee ?? null;
}

/** The fee terms the decision recorded for a PSP; null when unpriced, not a candidate, or not recorded. */
export function feeTermsOf(d: RoutingDecision | undefined, psp: string | null | undefined): FeeTerms | null {
  return d?.candidates.find((k) => k.psp === psp)?.feeTerms ?? null;
}

export type { Region };
