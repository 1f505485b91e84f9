// The circuit breaker as a pure state machine: every transition at explicit times, and properties
// over random sequences of calls, outcomes and clock steps.
import { expect } from "chai";
import fc from "fast-check";
import {
  admit,
  initialBreaker,
  isFailure,
  PROBE_LOST_AFTER_MS,
  record,
  settle,
  view,
  type BreakerOutcome,
  type BreakerState,
  type Ticket,
} from "../../actors/psp/breaker.ts";
import { CircuitThresholds } from "../../actors/policy/core/schemas.ts";

const T = CircuitThresholds.parse({
  window: 10,
  min_calls: 4,
  failure_rate: 0.5,
  consecutive_failures: 3,
  open_ms: 1000,
  half_open_probes: 2,
});

/** Admits one call at `at` and records its outcome at the same time. */
function call(s: BreakerState, outcome: BreakerOutcome, at: number, t = T): BreakerState {
  const a = admit(s, at, t);
  expect(a.allowed, `call at ${at} admitted`).to.equal(true);
  return record(a.state, outcome, 10, at, t, a.ticket);
}
const calls = (s: BreakerState, outcomes: BreakerOutcome[], at: number, t = T) =>
  outcomes.reduce((acc, o) => call(acc, o, at, t), s);

/** A breaker opened by consecutive failures at `at`. */
const openedAt = (at: number) => calls(initialBreaker(), ["technical_error", "unknown", "exception"], at);

describe("the PSP circuit breaker", () => {
  it("starts closed and admits calls", () => {
    const a = admit(initialBreaker(), 0, T);
    expect(a.allowed).to.equal(true);
    expect(view(a.state, 0, T)).to.include({
      circuit: "closed",
      samples: 0,
      successRate: 0,
      failureRate: null,
    });
  });

  it("opens after consecutive_failures failures in a row", () => {
    const s = calls(initialBreaker(), ["technical_error", "unknown"], 100);
    expect(view(s, 100, T).circuit).to.equal("closed");
    const opened = call(s, "exception", 100);
    expect(view(opened, 100, T)).to.include({ circuit: "open", sinceMs: 100, retryAtMs: 1100 });
  });

  it("opens when the window holds min_calls and the failure share reaches failure_rate", () => {
    // fail, ok, fail: 3 calls, below min_calls; the 4th (ok) makes 2/4 = 50 %.
    const s = calls(initialBreaker(), ["unknown", "authorized", "technical_error"], 0);
    expect(view(s, 0, T).circuit).to.equal("closed");
    expect(view(call(s, "authorized", 0), 0, T).circuit).to.equal("open");
  });

  it("treats declines as healthy answers: they never open the circuit, though they are not successes", () => {
    const s = calls(initialBreaker(), Array<BreakerOutcome>(10).fill("declined"), 0);
    expect(view(s, 0, T)).to.include({ circuit: "closed", successRate: 0, failureRate: 0, samples: 10 });
  });

  it("counts authorized and requires_action as successes for the success rate", () => {
    const s = calls(initialBreaker(), ["authorized", "requires_action", "declined", "declined"], 0);
    expect(view(s, 0, T)).to.include({ successRate: 0.5, samples: 4 });
  });

  it("keeps only the last `window` outcomes", () => {
    const s = calls(
      initialBreaker(),
      [...Array<BreakerOutcome>(6).fill("declined"), ...Array<BreakerOutcome>(10).fill("authorized")],
      0,
    );
    expect(view(s, 0, T)).to.include({ samples: 10, successRate: 1 });
  });

  it("refuses every call while open, until open_ms has passed", () => {
    const s = openedAt(0);
    expect(admit(s, 1, T).allowed).to.equal(false);
    expect(admit(s, 999, T).allowed).to.equal(false);
    expect(view(s, 999, T).circuit).to.equal("open");
  });

  it("reads as half-open once open_ms has passed, without any call", () => {
    const s = openedAt(0);
    expect(view(s, 1000, T)).to.include({ circuit: "half_open", sinceMs: 1000, retryAtMs: null });
  });

  it("lets at most half_open_probes calls out at once while half-open", () => {
    const first = admit(openedAt(0), 1000, T);
    const second = admit(first.state, 1001, T);
    const third = admit(second.state, 1002, T);
    expect([first.allowed, second.allowed, third.allowed]).to.deep.equal([true, true, false]);
    expect(first.ticket.probe).to.equal(true);
  });

  it("closes after half_open_probes probe successes in a row, with a fresh window", () => {
    const a1 = admit(openedAt(0), 1000, T);
    const a2 = admit(a1.state, 1000, T);
    const one = record(a2.state, "authorized", 5, 1010, T, a1.ticket);
    expect(view(one, 1010, T).circuit).to.equal("half_open");
    // A probe slot came free: one more may go out.
    expect(admit(one, 1010, T).allowed).to.equal(true);
    const closed = record(one, "declined", 5, 1020, T, a2.ticket);
    expect(view(closed, 1020, T)).to.include({
      circuit: "closed",
      samples: 0,
      consecutiveFailures: 0,
      sinceMs: 1020,
    });
  });

  it("opens again on any probe failure while half-open, for another open_ms", () => {
    const a1 = admit(openedAt(0), 1000, T);
    const ok = record(a1.state, "authorized", 5, 1005, T, a1.ticket);
    const a2 = admit(ok, 1006, T);
    const reopened = record(a2.state, "unknown", 5, 1010, T, a2.ticket);
    expect(view(reopened, 1010, T)).to.include({ circuit: "open", sinceMs: 1010, retryAtMs: 2010 });
    expect(admit(reopened, 2009, T).allowed).to.equal(false);
    expect(admit(reopened, 2010, T).allowed).to.equal(true);
  });

  it("lets the answer of a call admitted before the circuit opened feed the window but not close it", () => {
    const early = admit(initialBreaker(), 0, T);
    const opened = calls(early.state, ["unknown", "unknown", "unknown"], 0);
    const halfOpen = admit(opened, 1000, T).state; // one probe out
    const late = record(halfOpen, "authorized", 5, 1001, T, early.ticket);
    expect(view(late, 1001, T)).to.include({ circuit: "half_open", probesInFlight: 1 });
  });

  it("counts probes that never report as lost after PROBE_LOST_AFTER_MS, and opens again", () => {
    let s = openedAt(0);
    s = admit(s, 1000, T).state;
    s = admit(s, 1000, T).state; // both probes out, never answered
    const lostAt = 1000 + PROBE_LOST_AFTER_MS;
    expect(admit(s, lostAt - 1, T).allowed).to.equal(false);
    expect(view(s, lostAt - 1, T).circuit).to.equal("half_open");
    expect(view(s, lostAt, T)).to.include({ circuit: "open", sinceMs: lostAt });
    expect(view(s, lostAt + 1000, T).circuit).to.equal("half_open");
  });

  it("records a call without a ticket in the window only", () => {
    const s = record(initialBreaker(), "authorized", 20, 0, T);
    expect(view(s, 0, T)).to.include({ samples: 1, successRate: 1 });
    expect(view(s, 0, T).latencyMs).to.deep.equal({ p50: 20, p95: 20 });
  });

  it("reports latency quantiles over the window", () => {
    let s = initialBreaker();
    for (let i = 1; i <= 10; i++) s = record(s, "declined", i * 10, 0, T);
    expect(view(s, 0, T).latencyMs).to.deep.equal({ p50: 50, p95: 100 });
  });
});

describe("the PSP circuit breaker's properties", () => {
  type Step =
    | { t: "call"; outcome: BreakerOutcome; answerLater: boolean }
    | { t: "answer"; outcome: BreakerOutcome }
    | { t: "tick"; ms: number };
  const outcome = fc.constantFrom<BreakerOutcome>(
    "authorized",
    "requires_action",
    "declined",
    "technical_error",
    "unknown",
    "exception",
  );
  const step: fc.Arbitrary<Step> = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({ t: fc.constant("call" as const), outcome, answerLater: fc.boolean() }),
    },
    { weight: 2, arbitrary: fc.record({ t: fc.constant("answer" as const), outcome }) },
    {
      weight: 2,
      arbitrary: fc.record({ t: fc.constant("tick" as const), ms: fc.integer({ min: 0, max: 700 }) }),
    },
  );
  const thresholds = fc
    .record({
      window: fc.integer({ min: 5, max: 20 }),
      min_calls: fc.integer({ min: 1, max: 10 }),
      failure_rate: fc.double({ min: 0.1, max: 1, noNaN: true }),
      consecutive_failures: fc.integer({ min: 1, max: 6 }),
      open_ms: fc.integer({ min: 100, max: 1000 }),
      half_open_probes: fc.integer({ min: 1, max: 4 }),
    })
    .map((t) => CircuitThresholds.parse(t));

  type Trace = {
    at: number;
    before: BreakerState;
    after: BreakerState;
    admitted?: boolean;
    /** The outcome of a probe of the circuit's current half-open episode, recorded at this step. */
    probeAnswer?: BreakerOutcome;
  };

  /** Runs the steps, keeping what happened at each one. */
  function run(steps: Step[], t: CircuitThresholds): Trace[] {
    let s = initialBreaker();
    let now = 0;
    const pending: Ticket[] = [];
    const trace: Trace[] = [];
    for (const st of steps) {
      const before = s;
      if (st.t === "tick") {
        now += st.ms;
        trace.push({ at: now, before, after: s });
      } else {
        let ticket: Ticket | undefined;
        let admitted: boolean | undefined;
        if (st.t === "call") {
          const a = admit(s, now, t);
          s = a.state;
          admitted = a.allowed;
          if (a.allowed && st.answerLater) pending.push(a.ticket);
          else if (a.allowed) ticket = a.ticket;
        } else {
          ticket = pending.shift();
        }
        const current = settle(s, now, t);
        const isProbe =
          ticket?.probe === true && ticket.episode === current.episode && current.circuit === "half_open";
        if (ticket) s = record(s, st.outcome, 1, now, t, ticket);
        trace.push({
          at: now,
          before,
          after: s,
          ...(admitted !== undefined ? { admitted } : {}),
          ...(isProbe ? { probeAnswer: st.outcome } : {}),
        });
      }
    }
    return trace;
  }

  it("never admits a call while open, before open_ms has passed since it opened", () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), thresholds, (steps, t) => {
        for (const x of run(steps, t)) {
          if (!x.admitted) continue;
          const v = view(x.before, x.at, t);
          if (v.circuit === "open") return false;
          const seen = x.before;
          if (seen.circuit === "open" && x.at < (seen.sinceMs ?? 0) + t.open_ms) return false;
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });

  it("closes from half-open only after half_open_probes probe successes in a row", () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), thresholds, (steps, t) => {
        const trace = run(steps, t);
        let streak = 0;
        for (const x of trace) {
          const before = view(x.before, x.at, t).circuit;
          const after = view(x.after, x.at, t).circuit;
          if (before !== "half_open") streak = 0;
          if (x.probeAnswer !== undefined) streak = isFailure(x.probeAnswer) ? 0 : streak + 1;
          if (before === "half_open" && after === "closed" && streak < t.half_open_probes) return false;
          if (before === "open" && after === "closed") return false;
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });

  it("never has more than half_open_probes probes in flight", () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), thresholds, (steps, t) =>
        run(steps, t).every((x) => x.after.probesInFlight <= t.half_open_probes),
      ),
      { numRuns: 300 },
    );
  });
});
