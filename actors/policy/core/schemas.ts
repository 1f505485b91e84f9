// The three policy kinds as data: routing, fees, retries. Each is a JSON document an operator
// uploads; these zod schemas are the shape check, actors/policy/core/validate.ts the meaning check
// (unknown PSPs, unreachable rules, overlaps, weights, coverage). A stored version never changes:
// a new document is a new version.
import { z } from "zod";

export const PolicyKind = { routing: "routing", fees: "fees", retries: "retries" } as const;
export type PolicyKind = (typeof PolicyKind)[keyof typeof PolicyKind];
export const POLICY_KINDS: readonly PolicyKind[] = ["routing", "fees", "retries"];

const Currency = z.string().regex(/^[A-Z]{3}$/, "an ISO 4217 code in capitals, like EUR");
const Country = z.string().regex(/^[A-Z]{2}$/, "an ISO 3166 alpha-2 code in capitals, like DE");
/** A PSP's name, wherever one is written (policies, routes, the notification door): one form. */
export const PSP_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
export const PspName = z.string().regex(PSP_NAME, "not a PSP name");
const Brand = z.enum(["visa", "mastercard", "amex", "discover", "unknown"]);
const MinorUnits = z.number().int().nonnegative();

/** Where the card was issued, seen from the merchant's home country. */
export const Region = z.enum(["domestic", "intra_eea", "international"]);
export type Region = z.infer<typeof Region>;

/** What a payment may need of a PSP beyond its currency and brand. */
export const Capability = z.enum(["three_ds", "partial_capture", "refunds"]);
export type Capability = z.infer<typeof Capability>;

// ---------------------------------------------------------------------------------------------
// Routing

/** Inclusive bounds in minor units of the currency it is keyed by. */
export const AmountRange = z
  .object({ min: MinorUnits.optional(), max: MinorUnits.optional() })
  .strict()
  .refine((r) => r.min === undefined || r.max === undefined || r.min <= r.max, {
    message: "min must not exceed max",
  });
export type AmountRange = z.infer<typeof AmountRange>;

/**
 * A rule's conditions; every one given must hold (AND), an absent one holds for every payment.
 * `amount` is keyed by currency: a payment in a currency not listed there does not match.
 * `metadata`: a string value must equal the payment's metadata value; `true` only needs the key.
 */
export const Conditions = z
  .object({
    currencies: z.array(Currency).min(1).optional(),
    amount: z.record(Currency, AmountRange).optional(),
    brands: z.array(Brand).min(1).optional(),
    bin_countries: z.array(Country).min(1).optional(),
    regions: z.array(Region).min(1).optional(),
    merchants: z.array(z.string().min(1)).min(1).optional(),
    capture: z.enum(["automatic", "manual"]).optional(),
    metadata: z.record(z.string().min(1), z.union([z.string(), z.literal(true)])).optional(),
  })
  .strict();
export type Conditions = z.infer<typeof Conditions>;

export const RoutingOutcome = z.discriminatedUnion("type", [
  /** Try the PSPs in this order. */
  z.object({ type: z.literal("priority"), psps: z.array(PspName).min(1) }).strict(),
  /** Send each payment to one arm, chosen by a hash of the payment id; weights are percents summing to 100. */
  z
    .object({
      type: z.literal("weighted"),
      split: z.array(z.object({ psp: PspName, weight: z.number().int().min(0).max(100) }).strict()).min(1),
    })
    .strict(),
  /** The PSP with the lowest expected fee for this payment (fee policy); ties keep list order. */
  z.object({ type: z.literal("least_cost"), psps: z.array(PspName).min(1) }).strict(),
  /** Bandit over each PSP's recent success rate, with exploration and a sample floor. */
  z
    .object({
      type: z.literal("best_success_rate"),
      psps: z.array(PspName).min(1),
      /** Share of payments (0–1) sent to a PSP other than the best, to keep learning. */
      exploration: z.number().min(0).max(0.5).default(0.05),
      /** Below this many recent outcomes a PSP's rate is not trusted (scored as the prior). */
      min_samples: z.number().int().min(1).default(20),
    })
    .strict(),
]);
export type RoutingOutcome = z.infer<typeof RoutingOutcome>;

export const RoutingRule = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
    description: z.string().max(500).optional(),
    when: Conditions.default({}),
    /** Capabilities a payment matching this rule needs, on top of the policy's `requires`. */
    requires: z.array(Capability).optional(),
    then: RoutingOutcome,
  })
  .strict();
export type RoutingRule = z.infer<typeof RoutingRule>;

export const RoutingPolicy = z
  .object({
    kind: z.literal("routing"),
    description: z.string().max(1000).optional(),
    /** The merchant's country, from which a card's region is judged. */
    home_country: Country,
    /** Capabilities every payment needs. */
    requires: z.array(Capability).default([]),
    rules: z.array(RoutingRule).default([]),
    /** When no rule matches, and the PSPs every outcome cascades to after its own. Required. */
    fallback: z.array(PspName).optional(),
  })
  .strict();
export type RoutingPolicy = z.infer<typeof RoutingPolicy>;

// ---------------------------------------------------------------------------------------------
// Fees

/**
 * A percentage as a decimal string ("1.4" = 1.4 %), at most 4 decimals: kept as text so that no
 * binary float ever touches money. Parsed to parts per million (1.4 % = 14 000 ppm).
 */
export const Percent = z
  .string()
  .regex(/^\d{1,2}(\.\d{1,4})?$/, 'a percentage like "1.4" (at most 4 decimals)');

export const FeeEntry = z
  .object({
    /** Which payments this entry prices; absent = any. First matching entry wins. */
    schemes: z.array(Brand).min(1).optional(),
    regions: z.array(Region).min(1).optional(),
    /** Fixed part and minimum per currency, in that currency's minor units. A currency not listed here is not priced by this entry. */
    fixed: z.record(Currency, MinorUnits),
    percent: Percent,
    minimum: z.record(Currency, MinorUnits).optional(),
  })
  .strict();
export type FeeEntry = z.infer<typeof FeeEntry>;

export const FeePolicy = z
  .object({
    kind: z.literal("fees"),
    description: z.string().max(1000).optional(),
    psps: z.record(PspName, z.array(FeeEntry).min(1)),
  })
  .strict();
export type FeePolicy = z.infer<typeof FeePolicy>;

// ---------------------------------------------------------------------------------------------
// Retries

/** How every PSP answer is classified (actors/psp/decline-codes.ts maps codes to classes). */
export const OutcomeClass = z.enum(["hard_decline", "soft_decline", "technical", "unknown", "auth_required"]);
export type OutcomeClass = z.infer<typeof OutcomeClass>;

export const CircuitThresholds = z
  .object({
    /** Outcomes the rolling window keeps per PSP. */
    window: z.number().int().min(5).max(1000).default(50),
    /** The circuit opens when at least `min_calls` are in the window and this share of them failed. */
    failure_rate: z.number().gt(0).max(1).default(0.5),
    min_calls: z.number().int().min(1).default(10),
    /** Or after this many failures in a row, whatever the window says. */
    consecutive_failures: z.number().int().min(1).default(5),
    /** How long an open circuit stays open before letting probes through (half-open). */
    open_ms: z.number().int().min(100).max(600_000).default(10_000),
    /** Probe calls allowed at once while half-open; this many successes in a row close it. */
    half_open_probes: z.number().int().min(1).max(100).default(3),
  })
  .strict();
export type CircuitThresholds = z.infer<typeof CircuitThresholds>;

export const RetryPolicy = z
  .object({
    kind: z.literal("retries"),
    description: z.string().max(1000).optional(),
    /** Classes that move a payment on to its next candidate PSP. Never `hard_decline`, `unknown` or `auth_required`. */
    cascade_on: z.array(z.enum(["soft_decline", "technical"])).default(["soft_decline", "technical"]),
    /** Attempts in all, across PSPs and retries, including the first. */
    max_attempts: z.number().int().min(1).max(10).default(3),
    /**
     * What an `auth_required` decline (the issuer wants strong customer authentication) does: `never`
     * declines the payment; `same_psp` / `next_psp` step up to 3-D Secure there, once per payment,
     * within `max_attempts`. Absent in documents written before it: `never`, as they behaved.
     */
    step_up: z.enum(["never", "same_psp", "next_psp"]).default("never"),
    technical: z
      .object({
        /** Retries on the same PSP after a technical error, before cascading. */
        same_psp_retries: z.number().int().min(0).max(5).default(0),
        /** Backoff before a retry or cascade after a technical error: initial × multiplier^(n-1), capped. */
        backoff_initial_ms: z.number().int().min(0).max(10_000).default(50),
        backoff_multiplier: z.number().min(1).max(10).default(2),
        backoff_max_ms: z.number().int().min(0).max(30_000).default(1_000),
      })
      .strict()
      .prefault({}),
    circuit: CircuitThresholds.prefault({}),
  })
  .strict();
export type RetryPolicy = z.infer<typeof RetryPolicy>;

export const PolicyDocument = z.discriminatedUnion("kind", [RoutingPolicy, FeePolicy, RetryPolicy]);
export type PolicyDocument = z.infer<typeof PolicyDocument>;

export type PolicyOf<K extends PolicyKind> = Extract<PolicyDocument, { kind: K }>;

/** A stored version of a policy: its number and its document. */
export type Versioned<T> = { version: number; policy: T };

// ---------------------------------------------------------------------------------------------
// What each PSP can take: declared by its adapter (actors/psp/registry.ts), used for eligibility
// and by the validator.

export type PspCapabilities = {
  currencies: readonly string[];
  brands: readonly string[];
  threeDs: boolean;
  partialCapture: boolean;
  refunds: boolean;
};
