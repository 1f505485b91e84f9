// The retry terms a payment keeps for its whole life, taken from the retry policy when it is
// routed, and the backoff they imply. Pure.
import type { RetryTerms } from "./decision.ts";
import type { RetryPolicy } from "./schemas.ts";

export function retryTermsOf(p: RetryPolicy): RetryTerms {
  return {
    cascadeOn: [...p.cascade_on],
    maxAttempts: p.max_attempts,
    samePspRetries: p.technical.same_psp_retries,
    backoffInitialMs: p.technical.backoff_initial_ms,
    backoffMultiplier: p.technical.backoff_multiplier,
    backoffMaxMs: p.technical.backoff_max_ms,
    ...(p.step_up !== "never" && { stepUp: p.step_up }),
  };
}

/** Milliseconds to wait before the n-th technical retry (n ≥ 1): initial × multiplier^(n-1), capped at max, rounded down. */
export function backoffMs(terms: RetryTerms, n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`retry number must be an integer ≥ 1, got ${n}`);
  if (terms.backoffInitialMs === 0) return 0;
  const raw = terms.backoffInitialMs * terms.backoffMultiplier ** (n - 1);
  return Math.floor(Math.min(terms.backoffMaxMs, raw));
}

/** The floor and ceiling of a wait for a PSP (or NATS) that did not answer: never a hot loop, never hours. */
export const MIN_REDELIVERY_MS = 1_000;
export const MAX_REDELIVERY_MS = 60_000;

/**
 * The one backoff scheme: how long a command waits before its n-th redelivery (n ≥ 1) when its
 * payment waits on a PSP, from the payment's own retry terms, kept within the floor and ceiling.
 */
export function redeliveryDelayMs(terms: RetryTerms | undefined, n: number): number {
  const k = Math.max(1, Math.min(Math.floor(n), 30));
  const ms = terms ? backoffMs(terms, k) : MIN_REDELIVERY_MS * 2 ** (k - 1);
  return Math.min(MAX_REDELIVERY_MS, Math.max(MIN_REDELIVERY_MS, ms));
}
