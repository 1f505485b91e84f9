// PSP health for one worker: each PSP's circuit breaker (breaker.ts, pure) and forced-out flag, kept
// as plain in-process state and updated synchronously. No actor or lock is needed for the half-open
// probe limit to hold under concurrency: the worker runs on one event-loop thread, and every update
// here (`admit`, `record`, `setForcedOut`, the timer's settle) reads the state, computes the next one
// and stores it without an `await` in between, so two authorizations can never both see the last
// free probe slot. Keep it that way: an `await` between a read and its write would reopen that race.
//
// `health()` and `reports()` read the state with the current time (an open circuit whose open_ms has
// passed reads as half-open at once). A timer per PSP settles the state at that moment too, so the
// transition is logged, counted and published even when no payment asks.
//
// The board must never become the reason nothing is sent: once closed, or if an update throws, calls
// are admitted (and logged); the breaker protects the PSP and our latency, not the other way round.
import type { Logger } from "../../config/log.ts";
import type { Metrics } from "../../config/metrics.ts";
import type { ActorSystem } from "../nact.ts";
import type { PspHealth } from "../policy/core/decision.ts";
import type { PspHealthReport } from "../policy/core/reports.ts";
import { CircuitThresholds } from "../policy/core/schemas.ts";
import {
  admit,
  initialBreaker,
  PROBE_LOST_AFTER_MS,
  record,
  routingView,
  settle,
  transition,
  view,
  type BreakerOutcome,
  type BreakerState,
  type Ticket,
} from "./breaker.ts";

/** `switchyard_psp_circuit_state` values. */
export const CIRCUIT_GAUGE = { closed: 0, half_open: 1, open: 2 } as const;

export type Admission = { allowed: true; ticket?: Ticket } | { allowed: false; reason: string };

export type HealthChange = {
  psp: string;
  /** circuit: a transition; forced: forced in or out; thresholds: new thresholds. (Single outcomes are not announced.) */
  kind: "circuit" | "forced" | "thresholds";
  report: PspHealthReport;
};

export type PspHealthBoardOptions = {
  log: Logger;
  metrics?: Metrics;
  /** PSPs to watch from the start (others are added on first use). */
  psps?: readonly string[];
  thresholds?: CircuitThresholds;
  /** @deprecated Ignored: the board no longer runs actors. Accepted so existing callers compile. */
  system?: ActorSystem;
  now?: () => number;
};

type PspState = { readonly breaker: BreakerState; readonly forcedOut: boolean };
/** Why the state changed: decides what is measured and announced. */
type Cause =
  | { kind: "admit" }
  | { kind: "record"; latencyMs: number }
  | { kind: "force" }
  | { kind: "settle"; reason: "timer" | "thresholds" };
type Entry = { state: PspState; timer?: NodeJS.Timeout };

export class PspHealthBoard {
  readonly #entries = new Map<string, Entry>();
  readonly #listeners = new Set<(change: HealthChange) => void>();
  readonly #now: () => number;
  #thresholds: CircuitThresholds;
  #closed = false;

  constructor(private readonly opts: PspHealthBoardOptions) {
    this.#now = opts.now ?? Date.now;
    this.#thresholds = opts.thresholds ?? CircuitThresholds.parse({});
    for (const psp of opts.psps ?? []) this.#entry(psp);
  }

  get thresholds(): CircuitThresholds {
    return this.#thresholds;
  }

  /** Every watched PSP's health now. */
  health(): ReadonlyMap<string, PspHealth> {
    const now = this.#now();
    const out = new Map<string, PspHealth>();
    for (const [psp, e] of this.#entries) {
      const v = routingView(e.state.breaker, now, this.#thresholds);
      // Half-open with every probe in flight admits nothing more: route around it like an open one.
      const busy = v.circuit === "half_open" && v.probesInFlight >= this.#thresholds.half_open_probes;
      out.set(psp, {
        circuit: busy ? "open" : v.circuit,
        forcedOut: e.state.forcedOut,
        successRate: v.successRate,
        samples: v.samples,
      });
    }
    return out;
  }

  reports(): PspHealthReport[] {
    return [...this.#entries.keys()].sort().map((psp) => this.#report(psp));
  }

  /**
   * Whether an authorization may be sent now; an admitted half-open call takes a probe slot at once.
   * Never throws. Pass the ticket back to `record`.
   */
  admit(psp: string): Admission {
    if (this.#closed) return { allowed: true };
    let answer: Admission = { allowed: true };
    this.#update(psp, { kind: "admit" }, (state, now, t) => {
      if (state.forcedOut) {
        answer = { allowed: false, reason: "forced out" };
        return { ...state, breaker: settle(state.breaker, now, t) };
      }
      const a = admit(state.breaker, now, t);
      answer = a.allowed
        ? { allowed: true, ticket: a.ticket }
        : {
            allowed: false,
            reason: a.state.circuit === "open" ? "circuit open" : "circuit half-open, probes in flight",
          };
      return { ...state, breaker: a.state };
    });
    return answer;
  }

  /** Counts an authorization's outcome and latency. Never throws. */
  record(psp: string, outcome: BreakerOutcome, latencyMs: number, ticket?: Ticket): void {
    this.#update(psp, { kind: "record", latencyMs }, (state, now, t) => ({
      ...state,
      breaker: record(state.breaker, outcome, latencyMs, now, t, ticket),
    }));
  }

  /** Applied at once; returns a promise only so that callers written for the actor version still await it. */
  setForcedOut(psp: string, out: boolean): Promise<void> {
    this.#update(psp, { kind: "force" }, (state, now, t) => ({
      breaker: settle(state.breaker, now, t),
      forcedOut: out,
    }));
    return Promise.resolve();
  }

  /**
   * New thresholds (the retry policy's `circuit`), applied to every PSP from now on. Applied at once;
   * the promise is for callers written for the actor version.
   */
  setThresholds(t: CircuitThresholds): Promise<void> {
    this.#thresholds = t;
    for (const psp of [...this.#entries.keys()]) {
      this.#update(psp, { kind: "settle", reason: "thresholds" }, (state, now) => {
        // New thresholds may shrink the window: keep only what the new size holds.
        const b = settle(state.breaker, now, t);
        return { ...state, breaker: { ...b, window: b.window.slice(-t.window) } };
      });
    }
    return Promise.resolve();
  }

  /** Called after every change of a PSP's health; returns the unsubscribe function. */
  onChange(cb: (change: HealthChange) => void): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const e of this.#entries.values()) clearTimeout(e.timer);
    this.#listeners.clear();
  }

  /**
   * The one place state changes: read, compute, store, with no `await` in between (see the header).
   * A throw (a bug: breaker.ts is total) leaves the state as it was and is logged, never rethrown.
   */
  #update(
    psp: string,
    cause: Cause,
    next: (state: PspState, now: number, t: CircuitThresholds) => PspState,
  ): void {
    if (this.#closed) return;
    try {
      const entry = this.#entry(psp);
      const before = entry.state;
      const after = next(before, this.#now(), this.#thresholds);
      // The common case, an admission while closed, changes nothing: nothing to store or announce.
      if (after.breaker === before.breaker && after.forcedOut === before.forcedOut && cause.kind === "admit")
        return;
      entry.state = after;
      this.#publish(psp, entry, before, cause);
    } catch (err) {
      this.opts.log.error({ err, psp, cause: cause.kind }, "psp health update failed; state unchanged");
    }
  }

  #entry(psp: string): Entry {
    const known = this.#entries.get(psp);
    if (known) return known;
    const entry: Entry = { state: { breaker: initialBreaker(), forcedOut: false } };
    this.#entries.set(psp, entry);
    this.opts.metrics?.pspCircuitState.set({ psp }, CIRCUIT_GAUGE.closed);
    this.opts.metrics?.pspForcedOut.set({ psp }, 0);
    return entry;
  }

  #publish(psp: string, entry: Entry, before: PspState, cause: Cause): void {
    const after = entry.state;
    const { metrics, log } = this.opts;
    const changes: HealthChange["kind"][] = [];

    const moved = transition(before.breaker, after.breaker);
    if (moved) {
      changes.push("circuit");
      metrics?.pspCircuitTransitions.inc({ psp, to: moved.to });
      metrics?.pspCircuitState.set({ psp }, CIRCUIT_GAUGE[moved.to]);
      const v = view(after.breaker, this.#now(), this.#thresholds);
      const line = {
        psp,
        from: moved.from,
        to: moved.to,
        failureRate: v.failureRate,
        consecutiveFailures: v.consecutiveFailures,
      };
      if (moved.to === "open") log.warn(line, "psp circuit opened");
      else log.info(line, `psp circuit ${moved.to === "closed" ? "closed" : "half-open"}`);
    }
    if (before.forcedOut !== after.forcedOut) {
      changes.push("forced");
      metrics?.pspForcedOut.set({ psp }, after.forcedOut ? 1 : 0);
      log.warn(
        { psp, forcedOut: after.forcedOut },
        after.forcedOut ? "psp forced out of rotation" : "psp forced back in",
      );
    }
    if (cause.kind === "record") {
      // Not announced to listeners: one per authorization would cost a report each; they poll.
      metrics?.pspLatency.observe({ psp }, cause.latencyMs / 1000);
      metrics?.pspSuccessRate.set(
        { psp },
        routingView(after.breaker, this.#now(), this.#thresholds).successRate,
      );
    }
    if (cause.kind === "settle" && cause.reason === "thresholds") changes.push("thresholds");

    this.#schedule(psp, entry);
    if (changes.length === 0 || this.#listeners.size === 0) return;
    const report = this.#report(psp);
    for (const kind of changes) {
      for (const cb of this.#listeners) {
        try {
          cb({ psp, kind, report });
        } catch (err) {
          log.error({ err, psp }, "psp health listener failed");
        }
      }
    }
  }

  /** Settles the state when its circuit changes by time alone (open → half-open, lost probes). */
  #schedule(psp: string, entry: Entry): void {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    const b = entry.state.breaker;
    const t = this.#thresholds;
    const at =
      b.circuit === "open"
        ? (b.sinceMs ?? 0) + t.open_ms
        : b.circuit === "half_open" && b.probesInFlight >= t.half_open_probes && b.lastProbeAtMs !== null
          ? b.lastProbeAtMs + PROBE_LOST_AFTER_MS
          : undefined;
    if (at === undefined) return;
    entry.timer = setTimeout(
      () =>
        this.#update(psp, { kind: "settle", reason: "timer" }, (state, now, th) => ({
          ...state,
          breaker: settle(state.breaker, now, th),
        })),
      Math.max(0, at - this.#now()),
    );
    entry.timer.unref();
  }

  #report(psp: string): PspHealthReport {
    const state = this.#entries.get(psp)?.state ?? { breaker: initialBreaker(), forcedOut: false };
    const v = view(state.breaker, this.#now(), this.#thresholds);
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    return {
      psp,
      circuit: v.circuit,
      forcedOut: state.forcedOut,
      successRate: v.samples === 0 ? null : v.successRate,
      failureRate: v.failureRate,
      samples: v.samples,
      consecutiveFailures: v.consecutiveFailures,
      latencyMs: v.latencyMs,
      circuitSince: iso(v.sinceMs),
      retryAt: iso(v.retryAtMs),
    };
  }
}
