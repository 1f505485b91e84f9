// Properties of the payment decider over random command sequences: each command is decided on the
// current state, rejected ones are skipped, accepted events are folded with evolve.
import { expect } from "chai";
import fc from "fast-check";
import type {
  PaymentCommand,
  RecordAuthorizationResult,
  RecordOperationResult,
} from "../../actors/payment/core/commands.ts";
import { decide } from "../../actors/payment/core/decide.ts";
import type { PaymentEvent } from "../../actors/payment/core/events.ts";
import { evolve, evolveAll } from "../../actors/payment/core/evolve.ts";
import type { Payment, PaymentState } from "../../actors/payment/core/state.ts";
import {
  initialState,
  PaymentStatus,
  type PaymentStatus as Status,
} from "../../actors/payment/core/state.ts";
import { outsideTheUnion } from "../support/payment-shape.ts";
import { CARD, cmd, routeOf } from "./decider-spec.ts";

const RUNS = { numRuns: 200 };

/**
 * Statuses no command moves a payment out of. (Not "nothing happens after them": an expiry still
 * voids what its challenge left, and a dispute or a settlement can still be recorded.)
 */
const TERMINAL: ReadonlySet<Status> = new Set([
  PaymentStatus.declined,
  PaymentStatus.failed,
  PaymentStatus.canceled,
  PaymentStatus.refunded,
  PaymentStatus.expired,
]);

type Action =
  | { t: "create"; otherBody: boolean; amount: number; automatic: boolean; candidates: number }
  /** share: the amount as per mille of what may be moved (above 1000: too much); none: all of it. */
  | { t: "capture" | "refund"; op: number; otherBody: boolean; share: number | undefined }
  | { t: "cancel"; op: number; otherBody: boolean }
  | { t: "auth"; result: RecordAuthorizationResult["result"]; late: boolean }
  | { t: "opResult"; result: RecordOperationResult["result"]; late: boolean };

// Weighted towards authorization, so that most scenarios go on to captures and refunds.
const authResult: fc.Arbitrary<RecordAuthorizationResult["result"]> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      outcome: fc.constant("authorized" as const),
      pspReference: fc.constant("r"),
      captured: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.constant({
      outcome: "requires_action" as const,
      pspReference: "r",
      actionUrl: "https://psp.example/3ds",
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      outcome: fc.constant("declined" as const),
      code: fc.constant("card_declined"),
      soft: fc.boolean(),
      rawCode: fc.constant("05"),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ outcome: "technical_error" as const, code: "refused" }) },
  { weight: 2, arbitrary: fc.constant({ outcome: "unknown" as const, code: "timeout" }) },
);

const opResult: fc.Arbitrary<RecordOperationResult["result"]> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ outcome: "succeeded" as const, pspReference: "op_r" }) },
  { weight: 1, arbitrary: fc.constant({ outcome: "failed" as const, code: "refused" }) },
  { weight: 1, arbitrary: fc.constant({ outcome: "unknown" as const, code: "timeout" }) },
);

const opNo = fc.integer({ min: 0, max: 9 });
const rarely = fc.integer({ min: 0, max: 9 }).map((n) => n === 0);
const share = fc.option(fc.integer({ min: 1, max: 1_200 }), { nil: undefined });

const create: fc.Arbitrary<Action> = fc.record({
  t: fc.constant("create" as const),
  otherBody: rarely,
  amount: fc.integer({ min: 1, max: 10_000 }),
  automatic: fc.boolean(),
  candidates: fc.oneof(
    { weight: 1, arbitrary: fc.constant(0) },
    { weight: 6, arbitrary: fc.integer({ min: 1, max: 3 }) },
  ),
});

const action: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: create, weight: 1 },
  {
    arbitrary: fc.record({
      t: fc.constantFrom("capture" as const, "refund" as const),
      op: opNo,
      otherBody: rarely,
      share,
    }),
    weight: 6,
  },
  { arbitrary: fc.record({ t: fc.constant("cancel" as const), op: opNo, otherBody: rarely }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant("auth" as const), result: authResult, late: rarely }), weight: 4 },
  {
    arbitrary: fc.record({ t: fc.constant("opResult" as const), result: opResult, late: rarely }),
    weight: 4,
  },
);

/** Mostly a create first, then anything: a scenario. */
const scenario = fc.tuple(
  fc.option(create, { freq: 8, nil: undefined }),
  fc.array(action, { minLength: 10, maxLength: 50 }),
);

const part = (share: number | undefined, of = 1_000): number | undefined =>
  share === undefined ? undefined : Math.max(1, Math.round((of * share) / 1_000));

/** Turns an abstract action into a command against the current state (the open attempt/operation). */
function toCommand(state: PaymentState, a: Action, i: number): PaymentCommand {
  const at = new Date(Date.UTC(2025, 2, 1) + i * 1000).toISOString();
  const body = (op: number, other: boolean) => ({
    operationId: `op_${op}`,
    requestFingerprint: other ? "other-body" : `fp-op_${op}`,
  });
  switch (a.t) {
    case "create": {
      const candidates = ["psp_a", "psp_b", "psp_c"].slice(0, a.candidates);
      return cmd.create({
        amount: a.amount,
        capture: a.automatic ? "automatic" : "manual",
        requestFingerprint: a.otherBody ? "other-body" : "fp-create",
        route: routeOf(candidates),
        card: CARD,
        at,
      });
    }
    case "capture":
      return { ...cmd.capture(part(a.share, state?.amount), body(a.op, a.otherBody)), at };
    case "refund":
      return {
        ...cmd.refund(
          part(a.share, state && state.capturedAmount - state.refundedAmount),
          body(a.op, a.otherBody),
        ),
        at,
      };
    case "cancel":
      return { ...cmd.cancel(body(a.op, a.otherBody)), at };
    case "auth": {
      const attempts = state?.attempts ?? [];
      const attempt = a.late ? attempts[0] : attempts.at(-1);
      return { ...cmd.authResult(attempt?.no ?? 1, a.result), at };
    }
    case "opResult": {
      const ops = state?.operations ?? [];
      const op = a.late ? ops[0] : ops.at(-1);
      return { ...cmd.opResult(op?.id ?? "op_0", a.result), at };
    }
    default: {
      const never: never = a;
      return never;
    }
  }
}

type Step = { command: PaymentCommand; before: PaymentState; events: PaymentEvent[]; after: PaymentState };

/** Runs a scenario; `onState` sees the state after every single event. */
function run(actions: Action[], onState: (s: PaymentState) => void = () => {}): Step[] {
  let state = initialState();
  const steps: Step[] = [];
  actions.forEach((a, i) => {
    const command = toCommand(state, a, i);
    const decision = decide(state, command);
    if (!decision.ok) return;
    const before = state;
    for (const e of decision.events) {
      state = evolve(state, e);
      onState(state);
    }
    steps.push({ command, before, events: decision.events, after: state });
  });
  return steps;
}

const actionsOf = ([first, rest]: [Action | undefined, Action[]]): Action[] =>
  first ? [first, ...rest] : rest;

function checkInvariants(s: PaymentState): void {
  if (!s) return;
  expect(s.capturedAmount, "captured ≤ amount").to.be.at.most(s.amount);
  expect(s.refundedAmount, "refunded ≤ captured").to.be.at.most(s.capturedAmount);
  expect(s.capturedAmount).to.be.at.least(0);
  const fullyRefunded = s.capturedAmount > 0 && s.refundedAmount === s.capturedAmount;
  expect(s.status === "refunded", "refunded exactly when all that was captured is refunded").to.equal(
    fullyRefunded,
  );
  const open = (x: { status: string }) => x.status === "pending" || x.status === "unknown";
  expect(s.attempts.filter(open).length, "open attempts").to.be.at.most(1);
  expect(s.operations.filter(open).length, "open operations").to.be.at.most(1);
}

function deepFreeze<T>(x: T): T {
  if (x && typeof x === "object") {
    for (const v of Object.values(x)) deepFreeze(v);
    Object.freeze(x);
  }
  return x;
}

// Arbitrary (not decided) events: evolve must take anything, in any order, without throwing.
const anyEvent: fc.Arbitrary<PaymentEvent> = (() => {
  const at = fc.constant("2025-03-01T10:00:00.000Z");
  const no = fc.integer({ min: 1, max: 4 });
  const id = fc.constantFrom("op_0", "op_1", "op_2");
  const amount = fc.integer({ min: 0, max: 12_000 });
  return fc.oneof(
    fc.record({
      type: fc.constant("PaymentCreated" as const),
      paymentId: fc.constant("pay_1"),
      merchantId: fc.constant("m"),
      requestFingerprint: fc.constant("fp"),
      amount: fc.integer({ min: 1, max: 10_000 }),
      currency: fc.constant("EUR"),
      capture: fc.constantFrom("automatic" as const, "manual" as const),
      card: fc.constant(CARD),
      at,
    }),
    fc.record({
      type: fc.constant("PaymentRouted" as const),
      strategy: fc.constant("p"),
      candidates: fc.constant<string[]>(["a"]),
      at,
    }),
    fc.record({
      type: fc.constant("AuthorizationRequested" as const),
      attemptNo: no,
      psp: fc.constant("a"),
      idempotencyKey: fc.constant("k"),
      at,
    }),
    fc.record({
      type: fc.constant("PaymentAuthorized" as const),
      attemptNo: no,
      pspReference: fc.constant("r"),
      captured: fc.boolean(),
      at,
    }),
    fc.record({
      type: fc.constant("PaymentDeclined" as const),
      attemptNo: no,
      code: fc.constant("c"),
      soft: fc.boolean(),
      rawCode: fc.constant("05"),
      at,
    }),
    fc.record({
      type: fc.constant("PaymentRequiresAction" as const),
      attemptNo: no,
      pspReference: fc.constant("r"),
      actionUrl: fc.constant("u"),
      at,
    }),
    fc.record({
      type: fc.constantFrom("AuthorizationFailed" as const, "AuthorizationOutcomeUnknown" as const),
      attemptNo: no,
      code: fc.constant("c"),
      at,
    }),
    fc.record({ type: fc.constant("PaymentFailed" as const), code: fc.constant("c"), at }),
    fc.record({
      type: fc.constant("OperationRequested" as const),
      operationId: id,
      kind: fc.constantFrom("capture" as const, "void" as const, "refund" as const),
      requestFingerprint: fc.constant("fp"),
      amount,
      idempotencyKey: fc.constant("k"),
      at,
    }),
    fc.record({
      type: fc.constant("OperationSucceeded" as const),
      operationId: id,
      pspReference: fc.constant("r"),
      at,
    }),
    fc.record({
      type: fc.constantFrom("OperationFailed" as const, "OperationOutcomeUnknown" as const),
      operationId: id,
      code: fc.constant("c"),
      at,
    }),
  );
})();

describe("payment decider properties", () => {
  it("never captures more than the amount, nor refunds more than was captured, after any event", () => {
    fc.assert(
      fc.property(scenario, (sc) => {
        run(actionsOf(sc), checkInvariants);
      }),
      RUNS,
    );
  });

  it("keeps the invariants after the whole event sequence decided for each command", () => {
    fc.assert(
      fc.property(scenario, (sc) => {
        for (const step of run(actionsOf(sc))) checkInvariants(evolveAll(step.before, step.events));
      }),
      RUNS,
    );
  });

  it("never changes the status once the payment is in a terminal status", () => {
    fc.assert(
      fc.property(scenario, (sc) => {
        let terminal: Payment["status"] | undefined;
        run(actionsOf(sc), (s) => {
          if (terminal) expect(s?.status, `left terminal ${terminal}`).to.equal(terminal);
          else if (s && TERMINAL.has(s.status)) terminal = s.status;
        });
      }),
      RUNS,
    );
  });

  it("rebuilds exactly the same state by replaying all accepted events, also through a JSON snapshot", () => {
    fc.assert(
      fc.property(scenario, (sc) => {
        const steps = run(actionsOf(sc));
        const folded = steps.at(-1)?.after;
        const replayed = evolveAll(
          initialState(),
          steps.flatMap((s) => s.events),
        );
        expect(replayed).to.deep.equal(folded);
        if (folded) expect(JSON.parse(JSON.stringify(folded))).to.deep.equal(folded);
      }),
      RUNS,
    );
  });

  it("decides nothing when an accepted command is decided again on the state it produced", () => {
    fc.assert(
      fc.property(scenario, (sc) => {
        for (const step of run(actionsOf(sc)))
          expect(decide(step.after, step.command)).to.deep.equal({ ok: true, events: [] });
      }),
      RUNS,
    );
  });

  it("never produces a payment outside the union by status, nor does its JSON snapshot", () => {
    fc.assert(
      fc.property(scenario, (sc) => {
        run(actionsOf(sc), (s) => {
          if (!s) return;
          expect(outsideTheUnion(s), JSON.stringify(s)).to.equal(undefined);
          expect(outsideTheUnion(JSON.parse(JSON.stringify(s)))).to.equal(undefined);
        });
      }),
      RUNS,
    );
  });

  it("keeps any events in any order inside the union too (what evolve ignores, it ignores whole)", () => {
    fc.assert(
      fc.property(fc.array(anyEvent, { maxLength: 25 }), (events) => {
        let state = initialState();
        for (const e of events) {
          state = evolve(state, e);
          if (state)
            expect(outsideTheUnion(state), `${e.type}: ${JSON.stringify(state)}`).to.equal(undefined);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("evolves any events in any order without throwing or mutating the state it is given", () => {
    fc.assert(
      fc.property(fc.array(anyEvent, { maxLength: 25 }), (events) => {
        let state = initialState();
        for (const e of events) state = evolve(deepFreeze(state), e);
      }),
      { numRuns: 300 },
    );
  });
});
