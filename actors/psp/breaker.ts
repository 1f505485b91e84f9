// One PSP's circuit breaker and authorization success rate, as a pure state machine: the time and
// the thresholds are arguments, nothing here reads a clock or does I/O (actors/psp/health.ts is the
// actor around it).
//
//   closed ──(window ≥ min_calls and failure share ≥ failure_rate, or consecutive_failures in a row)──▶ open
//   open ──(open_ms passed)──▶ half_open          (computed from the time: no event needed)
//   half_open ──(half_open_probes probe successes in a row)──▶ closed   (window reset)
//   half_open ──(any probe failure)──▶ open
//
// A failure, for the circuit, is an outcome that says the PSP is not working: technical_error,
// unknown, or an exception. A decline is a healthy answer. The success rate (for routing's bandit)
// is separate: authorized and requires_action are successes; declines and failures are not. Both are
// computed over the same rolling window of the last `window` authorization outcomes.
//
// While half-open at most half_open_probes calls are let through at once. Each admitted call carries
// a ticket naming the circuit episode it was admitted in, so the answer of a call admitted before the
// circuit last changed (a slow call from before it opened) feeds the window but cannot close or
// reopen the circuit of a later episode.
import type { CircuitState, PspHealth } from "../policy/core/decision.ts";
import type { CircuitThresholds } from "../policy/core/schemas.ts";

/** What an authorization call ended in, as the breaker counts it. */
export type BreakerOutcome =
  "authorized" | "requires_action" | "declined" | "technical_error" | "unknown" | "exception";

export const isFailure = (o: BreakerOutcome): boolean =>
  o === "technical_error" || o === "unknown" || o === "exception";
export const isSuccess = (o: BreakerOutcome): boolean => o === "authorized" || o === "requires_action";

export type Sample = { failure: boolean; success: boolean; latencyMs: number; atMs: number };

export type BreakerState = {
  /** As last stored; an `open` circuit past its open_ms is half-open (see `settle`). */
  readonly circuit: CircuitState;
  /** When the circuit entered `circuit` (ms since the epoch); null if it never changed. */
  readonly sinceMs: number | null;
  /** Bumped on every transition; tickets of an earlier episode no longer count as probes. */
  readonly episode: number;
  readonly window: readonly Sample[];
  readonly consecutiveFailures: number;
  readonly probesInFlight: number;
  readonly probeSuccesses: number;
  /** When the last probe was let through (half-open only). */
  readonly lastProbeAtMs: number | null;
};

/** Handed out by `admit`, handed back to `record`. */
export type Ticket = { readonly episode: number; readonly probe: boolean };

export type Transition = { from: CircuitState; to: CircuitState; atMs: number };

export const initialBreaker = (): BreakerState => ({
  circuit: "closed",
  sinceMs: null,
  episode: 0,
  window: [],
  consecutiveFailures: 0,
  probesInFlight: 0,
  probeSuccesses: 0,
  lastProbeAtMs: null,
});

const moveTo = (s: BreakerState, circuit: CircuitState, atMs: number): BreakerState => ({
  ...s,
  circuit,
  sinceMs: atMs,
  episode: s.episode + 1,
  probesInFlight: 0,
  probeSuccesses: 0,
  lastProbeAtMs: null,
});

/** When an open circuit lets probes through; null unless open. */
export const retryAtMs = (s: BreakerState, t: CircuitThresholds): number | null =>
  s.circuit === "open" ? (s.sinceMs ?? 0) + t.open_ms : null;

/**
 * A probe whose answer has not been recorded this long after it went out is counted as lost (a
 * failure), so a probe that never reports cannot keep the circuit half-open and refusing forever.
 * Far beyond any PSP client timeout: a slow probe is still an answer.
 */
export const PROBE_LOST_AFTER_MS = 120_000;

/**
 * The state at `nowMs`: an open circuit whose open_ms has passed becomes half-open, at that moment;
 * a half-open circuit whose probes are all out and whose last probe went out PROBE_LOST_AFTER_MS
 * ago opens again.
 */
export function settle(state: BreakerState, nowMs: number, t: CircuitThresholds): BreakerState {
  let s = state;
  for (;;) {
    const retryAt = retryAtMs(s, t);
    if (retryAt !== null && nowMs >= retryAt) {
      s = moveTo(s, "half_open", retryAt);
      continue;
    }
    const lostAt = s.lastProbeAtMs !== null ? s.lastProbeAtMs + PROBE_LOST_AFTER_MS : null;
    if (
      s.circuit === "half_open" &&
      s.probesInFlight >= t.half_open_probes &&
      lostAt !== null &&
      nowMs >= lostAt
    ) {
      s = moveTo(s, "open", lostAt);
      continue;
    }
    return s;
  }
}

export type Admission = { allowed: boolean; ticket: Ticket; state: BreakerState };

/** May a call go out now? Closed: yes. Open: no. Half-open: while fewer than half_open_probes are out. */
export function admit(state: BreakerState, nowMs: number, t: CircuitThresholds): Admission {
  const s = settle(state, nowMs, t);
  switch (s.circuit) {
    case "closed":
      return { allowed: true, ticket: { episode: s.episode, probe: false }, state: s };
    case "open":
      return { allowed: false, ticket: { episode: s.episode, probe: false }, state: s };
    case "half_open": {
      const ticket = { episode: s.episode, probe: true };
      if (s.probesInFlight >= t.half_open_probes) return { allowed: false, ticket, state: s };
      return {
        allowed: true,
        ticket,
        state: { ...s, probesInFlight: s.probesInFlight + 1, lastProbeAtMs: nowMs },
      };
    }
  }
}

function shouldOpen(s: BreakerState, t: CircuitThresholds): boolean {
  if (s.consecutiveFailures >= t.consecutive_failures) return true;
  if (s.window.length < t.min_calls) return false;
  return failuresIn(s.window) / s.window.length >= t.failure_rate;
}

const failuresIn = (w: readonly Sample[]) => w.reduce((n, x) => n + (x.failure ? 1 : 0), 0);
const successesIn = (w: readonly Sample[]) => w.reduce((n, x) => n + (x.success ? 1 : 0), 0);

/**
 * Counts one call's outcome. Without a ticket (a call not admitted through `admit`) it only feeds the
 * window and, while closed, may open the circuit.
 */
export function record(
  state: BreakerState,
  outcome: BreakerOutcome,
  latencyMs: number,
  nowMs: number,
  t: CircuitThresholds,
  ticket?: Ticket,
): BreakerState {
  const settled = settle(state, nowMs, t);
  const failure = isFailure(outcome);
  const sample: Sample = { failure, success: isSuccess(outcome), latencyMs, atMs: nowMs };
  const s: BreakerState = {
    ...settled,
    window: [...settled.window, sample].slice(-t.window),
    consecutiveFailures: failure ? settled.consecutiveFailures + 1 : 0,
  };
  const probe = ticket?.probe === true && ticket.episode === s.episode && s.circuit === "half_open";
  switch (s.circuit) {
    case "closed":
      return shouldOpen(s, t) ? moveTo(s, "open", nowMs) : s;
    case "open":
      return s;
    case "half_open": {
      if (!probe) return s;
      if (failure) return moveTo(s, "open", nowMs);
      const done = {
        ...s,
        probesInFlight: Math.max(0, s.probesInFlight - 1),
        probeSuccesses: s.probeSuccesses + 1,
      };
      if (done.probeSuccesses < t.half_open_probes) return done;
      // A fresh start: the failures that opened the circuit must not reopen it at once.
      return { ...moveTo(done, "closed", nowMs), window: [], consecutiveFailures: 0 };
    }
  }
}

/** The circuit change between two states, if any (for logs and metrics). */
export function transition(before: BreakerState, after: BreakerState): Transition | undefined {
  return before.circuit !== after.circuit || before.episode !== after.episode
    ? { from: before.circuit, to: after.circuit, atMs: after.sinceMs ?? 0 }
    : undefined;
}

export type BreakerView = Omit<PspHealth, "forcedOut"> & {
  /** Failures / samples in the window; null when empty. */
  failureRate: number | null;
  consecutiveFailures: number;
  latencyMs: { p50: number | null; p95: number | null };
  sinceMs: number | null;
  retryAtMs: number | null;
  probesInFlight: number;
};

/** What the breaker says at `nowMs`, with the window cut to the current `window` size. */
export function view(state: BreakerState, nowMs: number, t: CircuitThresholds): BreakerView {
  const s = settle(state, nowMs, t);
  const w = s.window.slice(-t.window);
  const latencies = w.map((x) => x.latencyMs).sort((a, b) => a - b);
  return {
    circuit: s.circuit,
    // With no samples the rate is 0 and `samples` says it means nothing (routing applies its prior).
    successRate: w.length === 0 ? 0 : successesIn(w) / w.length,
    samples: w.length,
    failureRate: w.length === 0 ? null : failuresIn(w) / w.length,
    consecutiveFailures: s.consecutiveFailures,
    latencyMs: { p50: quantile(latencies, 0.5), p95: quantile(latencies, 0.95) },
    sinceMs: s.sinceMs,
    retryAtMs: retryAtMs(s, t),
    probesInFlight: s.probesInFlight,
  };
}

/** What routing reads on every payment: the view without the latency quantiles (no sorting). */
export function routingView(
  state: BreakerState,
  nowMs: number,
  t: CircuitThresholds,
): Pick<BreakerView, "circuit" | "successRate" | "samples" | "probesInFlight"> {
  const s = settle(state, nowMs, t);
  const w = s.window.length > t.window ? s.window.slice(-t.window) : s.window;
  return {
    circuit: s.circuit,
    successRate: w.length === 0 ? 0 : successesIn(w) / w.length,
    samples: w.length,
    probesInFlight: s.probesInFlight,
  };
}

/** Nearest-rank quantile of sorted values; null when there are none. */
export function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? null;
}
