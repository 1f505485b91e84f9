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
  };
}

/** Milliseconds to wait before the n-th technical retry (n ≥ 1): initial × multiplier^(n-1), capped at max, rounded down. */
export function backoffMs(terms: RetryTerms, n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`retry number must be an integer ≥ 1, got ${n}`);
  if (terms.backoffInitialMs === 0) return 0;
  const raw = terms.backoffInitialMs * terms.backoffMultiplier ** (n - 1);
  return Math.floor(Math.min(terms.backoffMaxMs, raw));
}
