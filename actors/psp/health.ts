// PSP health for one worker: one nact actor per PSP owns that PSP's circuit breaker (breaker.ts),
// so admissions and outcomes are applied one at a time and the half-open probe limit holds under
// concurrency. The router needs health on every payment without waiting on a mailbox, so after each
// change the actor leaves a plain copy of its state in the board's cache; `health()` and `reports()`
// read that copy with the current time (an open circuit whose open_ms has passed reads as half-open
// at once). A timer per PSP also sends the actor a `settle` at that moment, so the transition is
// logged, counted and published even when no payment asks.
//
// If the board cannot answer (closed, or an actor that does not reply in time) calls are admitted:
// the breaker protects the PSP and our latency, it must never become the reason nothing is sent.
import type { Logger } from "../../config/log.ts";
import type { Metrics } from "../../config/metrics.ts";
import {
  ask,
  spawnActor,
  startSystem,
  stopActor,
  stopSystem,
  type ActorRef,
  type ActorSystem,
} from "../nact.ts";
import type { PspHealth } from "../policy/decision.ts";
import type { PspHealthReport } from "../policy/reports.ts";
import { CircuitThresholds } from "../policy/schemas.ts";
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
  /** Runs the actors; a system of the board's own (stopped on close) when absent. */
  system?: ActorSystem;
  now?: () => number;
  askTimeoutMs?: number;
};

type ActorState = { breaker: BreakerState; forcedOut: boolean };
type Msg =
  | { kind: "admit" }
  | { kind: "record"; outcome: BreakerOutcome; latencyMs: number; ticket: Ticket | undefined }
  | { kind: "force"; out: boolean }
  | { kind: "settle"; reason: "timer" | "thresholds" };
type Reply = Admission;
type Entry = { ref: ActorRef<{ msg: Msg; reply: Reply }>; cached: ActorState; timer?: NodeJS.Timeout };

let boards = 0;

export class PspHealthBoard {
  readonly #entries = new Map<string, Entry>();
  readonly #listeners = new Set<(change: HealthChange) => void>();
  readonly #system: ActorSystem;
  readonly #ownSystem: boolean;
  readonly #id = ++boards;
  readonly #now: () => number;
  readonly #askTimeoutMs: number;
  #thresholds: CircuitThresholds;
  #closed = false;

  constructor(private readonly opts: PspHealthBoardOptions) {
    this.#ownSystem = opts.system === undefined;
    this.#system = opts.system ?? startSystem();
    this.#now = opts.now ?? Date.now;
    this.#askTimeoutMs = opts.askTimeoutMs ?? 2_000;
    this.#thresholds = opts.thresholds ?? CircuitThresholds.parse({});
    for (const psp of opts.psps ?? []) this.#entry(psp);
  }

  get thresholds(): CircuitThresholds {
    return this.#thresholds;
  }

  /** Every watched PSP's health now. Synchronous: a read of the actors' last copies. */
  health(): ReadonlyMap<string, PspHealth> {
    const now = this.#now();
    const out = new Map<string, PspHealth>();
    for (const [psp, e] of this.#entries) {
      const v = routingView(e.cached.breaker, now, this.#thresholds);
      // Half-open with every probe in flight admits nothing more: route around it like an open one.
      const busy = v.circuit === "half_open" && v.probesInFlight >= this.#thresholds.half_open_probes;
      out.set(psp, {
        circuit: busy ? "open" : v.circuit,
        forcedOut: e.cached.forcedOut,
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
   * Whether an authorization may be sent now. Never rejects. A closed circuit admits without
   * changing anything, so that common case is answered from the actor's last copy, without a
   * round trip through its mailbox; open and half-open (probe counting) ask the actor.
   */
  async admit(psp: string): Promise<Admission> {
    const cached = this.#entries.get(psp)?.cached;
    if (cached && !cached.forcedOut && !this.#closed) {
      const a = admit(cached.breaker, this.#now(), this.#thresholds);
      if (a.allowed && a.state.circuit === "closed") return { allowed: true, ticket: a.ticket };
    }
    return this.#ask(psp, { kind: "admit" });
  }

  /** Counts an authorization's outcome and latency. Never rejects. */
  async record(psp: string, outcome: BreakerOutcome, latencyMs: number, ticket?: Ticket): Promise<void> {
    await this.#ask(psp, { kind: "record", outcome, latencyMs, ticket });
  }

  async setForcedOut(psp: string, out: boolean): Promise<void> {
    await this.#ask(psp, { kind: "force", out });
  }

  /** New thresholds (the retry policy's `circuit`), applied to every PSP from now on. */
  async setThresholds(t: CircuitThresholds): Promise<void> {
    this.#thresholds = t;
    await Promise.all(
      [...this.#entries.keys()].map((psp) => this.#ask(psp, { kind: "settle", reason: "thresholds" })),
    );
  }

  /** Called after every change of a PSP's health; returns the unsubscribe function. */
  onChange(cb: (change: HealthChange) => void): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const e of this.#entries.values()) {
      clearTimeout(e.timer);
      stopActor(e.ref);
    }
    if (this.#ownSystem) stopSystem(this.#system);
    this.#listeners.clear();
  }

  async #ask(psp: string, msg: Msg): Promise<Reply> {
    if (this.#closed) return { allowed: true };
    try {
      return await ask(this.#entry(psp).ref, msg, this.#askTimeoutMs);
    } catch (err) {
      this.opts.log.error({ err, psp, msg: msg.kind }, "psp health actor did not answer; call admitted");
      return { allowed: true };
    }
  }

  #entry(psp: string): Entry {
    const known = this.#entries.get(psp);
    if (known) return known;
    const initial: ActorState = { breaker: initialBreaker(), forcedOut: false };
    const ref = spawnActor<ActorState, Msg, Reply>(
      this.#system,
      `psp-health-${this.#id}-${psp}`,
      initial,
      (state, msg, reply) => {
        const { next, answer } = this.#handle(state, msg);
        this.#publish(psp, state, next, msg);
        reply(answer);
        return Promise.resolve(next);
      },
      (err) => this.opts.log.error({ err, psp }, "psp health actor crashed; breaker reset"),
    );
    const entry: Entry = { ref, cached: initial };
    this.#entries.set(psp, entry);
    this.opts.metrics?.pspCircuitState.set({ psp }, CIRCUIT_GAUGE.closed);
    this.opts.metrics?.pspForcedOut.set({ psp }, 0);
    return entry;
  }

  #handle(state: ActorState, msg: Msg): { next: ActorState; answer: Reply } {
    const now = this.#now();
    const t = this.#thresholds;
    switch (msg.kind) {
      case "admit": {
        if (state.forcedOut) {
          return {
            next: { ...state, breaker: settle(state.breaker, now, t) },
            answer: { allowed: false, reason: "forced out" },
          };
        }
        const a = admit(state.breaker, now, t);
        const next = { ...state, breaker: a.state };
        if (a.allowed) return { next, answer: { allowed: true, ticket: a.ticket } };
        const reason = a.state.circuit === "open" ? "circuit open" : "circuit half-open, probes in flight";
        return { next, answer: { allowed: false, reason } };
      }
      case "record":
        return {
          next: { ...state, breaker: record(state.breaker, msg.outcome, msg.latencyMs, now, t, msg.ticket) },
          answer: { allowed: true },
        };
      case "force":
        return {
          next: { breaker: settle(state.breaker, now, t), forcedOut: msg.out },
          answer: { allowed: true },
        };
      case "settle": {
        // New thresholds may shrink the window: keep only what the new size holds.
        const b = settle(state.breaker, now, t);
        return {
          next: { ...state, breaker: { ...b, window: b.window.slice(-t.window) } },
          answer: { allowed: true },
        };
      }
    }
  }

  #publish(psp: string, before: ActorState, after: ActorState, msg: Msg): void {
    const entry = this.#entries.get(psp);
    if (!entry || this.#closed) return;
    entry.cached = after;
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
    if (msg.kind === "record") {
      // Not announced to listeners: one per authorization would cost a report each; they poll.
      metrics?.pspLatency.observe({ psp }, msg.latencyMs / 1000);
      metrics?.pspSuccessRate.set(
        { psp },
        routingView(after.breaker, this.#now(), this.#thresholds).successRate,
      );
    }
    if (msg.kind === "settle" && msg.reason === "thresholds") changes.push("thresholds");

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

  /** Wakes the actor when its circuit changes by time alone (open → half-open, lost probes). */
  #schedule(psp: string, entry: Entry): void {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    const b = entry.cached.breaker;
    const t = this.#thresholds;
    const at =
      b.circuit === "open"
        ? (b.sinceMs ?? 0) + t.open_ms
        : b.circuit === "half_open" && b.probesInFlight >= t.half_open_probes && b.lastProbeAtMs !== null
          ? b.lastProbeAtMs + PROBE_LOST_AFTER_MS
          : undefined;
    if (at === undefined) return;
    entry.timer = setTimeout(
      () => void this.#ask(psp, { kind: "settle", reason: "timer" }),
      Math.max(0, at - this.#now()),
    );
    entry.timer.unref();
  }

  #report(psp: string): PspHealthReport {
    const e = this.#entries.get(psp);
    const state = e?.cached ?? { breaker: initialBreaker(), forcedOut: false };
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
