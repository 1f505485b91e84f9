// The payment actor: one nact actor per live payment hosts the pure decider and does its I/O.
// For each command: load (snapshot + tail) → settle open PSP effects → decide → append with the
// fence → evolve → run the PSP effects the new events opened → reply. A fence failure means
// another process wrote this payment: forget the state, reload, decide again.
import type { CardSecret, PspConnector } from "../psp/contract.ts";
import { guarded, type PspGate } from "../psp/guarded.ts";
import { instrumented } from "../psp/instrumented.ts";
import { openCard, SealError } from "../../streams/card-seal.ts";
import type { CommandEnvelope, CommandReply } from "../../streams/envelopes.ts";
import type { Loaded } from "../../streams/event-store.ts";
import { WrongLastSequenceError, type EventStore } from "../../streams/event-store.ts";
import type { Disposition } from "../../streams/disposition.ts";
import { ack, nak, retryDelayMs, term } from "../../streams/disposition.ts";
import type { Logger } from "../../streams/log.ts";
import type { Metrics } from "../../streams/metrics.ts";
import type { SnapshotStore } from "../../streams/snapshots.ts";
import type { RoutingDecision } from "../policy/decision.ts";
import type { CreatePayment, PaymentCommand } from "./commands.ts";
import { decide } from "./decide.ts";
import { runEffect } from "./effect-runner.ts";
import { nextEffect } from "./effects.ts";
import { evolveAll } from "./evolve.ts";
import { movedPastResult, stateAtResult, type RequestRef } from "./result.ts";
import type { PaymentEvent } from "./events.ts";
import { RESTING, type Payment } from "./state.ts";
import { toView } from "./view.ts";

export type PaymentActorDeps = {
  store: EventStore;
  snapshots: SnapshotStore;
  /** Raw connectors: the actor measures and logs each PSP call itself, with its paymentId. */
  connectors: ReadonlyMap<string, PspConnector>;
  /** The PSP connector actors: admit an authorization (circuit breaker) and count its outcome. */
  gate?: PspGate;
  cardKey: Buffer;
  /** Routes a new payment: policies + PSP health → decision. Called only for a payment that does not exist yet. */
  route: (c: CreatePayment) => RoutingDecision | Promise<RoutingDecision>;
  /** Payments of this worker waiting on a PSP (unknown outcome, PSP unreachable): the unresolved-effects gauge. */
  waiting?: Set<string>;
  /** Told once the decision is recorded (metrics, shadow statistics). */
  onRouted?: (c: CreatePayment, d: RoutingDecision) => void;
  snapshotEvery: number;
  metrics: Metrics;
  log: Logger;
  now: () => Date;
};

export type PaymentMsg =
  | { kind: "command"; envelope: CommandEnvelope; traceparent: string | undefined; deliveryCount: number }
  | { kind: "passivate" };

export type PaymentOutcome = { disposition: Disposition; reply?: CommandReply };

export type PaymentActorState = { loaded: Loaded | undefined; sinceSnapshot: number };

const MAX_FENCE_ROUNDS = 5;

/** Stands in for a decision on a create the decider will answer from the existing payment. */
const NOT_ROUTED: RoutingDecision = {
  policyVersions: { routing: 0, fees: 0, retries: 0 },
  ruleId: null,
  ruleIndex: null,
  reason: "payment exists; not routed again",
  strategy: "none",
  candidates: [],
  order: [],
  retry: {
    cascadeOn: [],
    maxAttempts: 1,
    samePspRetries: 0,
    backoffInitialMs: 0,
    backoffMultiplier: 1,
    backoffMaxMs: 0,
  },
};

export function paymentBehaviour(paymentId: string, deps: PaymentActorDeps) {
  const base = deps.log.child({ paymentId });
  // The actor handles one message at a time, so the logger of the message in hand can live here.
  let log = base;
  return async (
    self: PaymentActorState,
    msg: PaymentMsg,
    reply: (o: PaymentOutcome) => void,
  ): Promise<PaymentActorState> => {
    if (msg.kind === "passivate") {
      if (self.loaded) await snapshot(self.loaded);
      reply({ disposition: ack });
      return self;
    }
    const started = process.hrtime.bigint();
    const type = msg.envelope.command.type;
    log = base.child({
      merchantId: msg.envelope.command.merchantId,
      traceId: msg.traceparent?.split("-")[1],
      command: type,
    });
    let outcome: PaymentOutcome;
    let next = self;
    try {
      [next, outcome] = await handleWithFence(self, msg);
    } catch (err) {
      // PSP or NATS trouble mid-command: nothing is lost (the command is redelivered and the
      // events say exactly how far we got), but this copy of the state may be stale.
      log.error({ err, command: type }, "command failed; will be redelivered");
      next = { loaded: undefined, sinceSnapshot: 0 };
      outcome = { disposition: nak(retryDelayMs(msg.deliveryCount)) };
    }
    trackWaiting(outcome);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    deps.metrics.commandDuration.observe({ type, result: outcomeLabel(outcome) }, seconds);
    reply(outcome);
    return next;
  };

  /** A nak'd command means the payment waits on a PSP (or on NATS) until its redelivery. */
  function trackWaiting(o: PaymentOutcome): void {
    if (!deps.waiting) return;
    if (o.disposition.kind === "nak") deps.waiting.add(paymentId);
    else deps.waiting.delete(paymentId);
    deps.metrics.unresolvedEffects.set(deps.waiting.size);
  }

  async function handleWithFence(
    self: PaymentActorState,
    msg: Extract<PaymentMsg, { kind: "command" }>,
  ): Promise<[PaymentActorState, PaymentOutcome]> {
    let card: CardSecret | undefined;
    if (msg.envelope.sealedCard !== undefined) {
      try {
        card = openCard(deps.cardKey, msg.envelope.sealedCard, paymentId);
      } catch (err) {
        if (!(err instanceof SealError)) throw err;
        log.error({ err }, "sealed card cannot be opened; command terminated");
        return [
          self,
          {
            disposition: term("sealed card cannot be opened"),
            reply: rejected("invalid_command", "the card cannot be read"),
          },
        ];
      }
    } else if (msg.envelope.command.type === "CreatePayment") {
      return [
        self,
        {
          disposition: term("CreatePayment without a card"),
          reply: rejected("validation_error", "CreatePayment needs sealedCard"),
        },
      ];
    }
    let state = self;
    for (let round = 1; round <= MAX_FENCE_ROUNDS; round++) {
      try {
        return await handle(state, msg, card);
      } catch (err) {
        if (!(err instanceof WrongLastSequenceError)) throw err;
        log.warn({ round }, "fenced: another writer appended to this payment; reloading");
        state = { loaded: undefined, sinceSnapshot: 0 };
      }
    }
    return [state, { disposition: nak(100) }];
  }

  async function handle(
    self: PaymentActorState,
    msg: Extract<PaymentMsg, { kind: "command" }>,
    card: CardSecret | undefined,
  ): Promise<[PaymentActorState, PaymentOutcome]> {
    const at = { ...self, loaded: self.loaded ?? (await deps.store.load(paymentId)) };
    const ctx = { card, traceparent: msg.traceparent };
    // Work left open by an earlier incarnation (crash, redelivery) comes first.
    let blocked = await settleEffects(at, ctx, true);
    const command = await deciderCommand(msg.envelope.command, at.loaded.state === undefined);
    const decision = decide(at.loaded.state, command);
    if (!decision.ok) {
      return [at, { disposition: ack, reply: { kind: "rejected", rejection: decision.rejection } }];
    }
    if (decision.events.length > 0) {
      await appendAndEvolve(at, decision.events, msg.traceparent);
      if (command.type === "CreatePayment") deps.onRouted?.(command, command.route);
      blocked = await settleEffects(at, ctx, false);
    }
    const payment = at.loaded.state;
    if (!payment)
      return [at, { disposition: ack, reply: rejected("payment_not_found", `no payment ${paymentId}`) }];
    if (blocked) {
      log.warn(
        { reason: blocked, deliveryCount: msg.deliveryCount },
        "payment waits on a PSP; retrying later",
      );
      return [
        at,
        {
          disposition: nak(retryDelayMs(msg.deliveryCount)),
          reply: { kind: "pending", payment: toView(payment) },
        },
      ];
    }
    const answer = decision.events.length === 0 ? await firstResult(payment, command) : payment;
    return [at, { disposition: ack, reply: { kind: "settled", payment: toView(answer) } }];
  }

  /** A repeated request answers what its first run answered, even if the payment moved on since. */
  async function firstResult(payment: Payment, command: PaymentCommand): Promise<Payment> {
    const ref: RequestRef | undefined =
      command.type === "CreatePayment"
        ? { kind: "create" }
        : "operationId" in command
          ? { kind: "operation", operationId: command.operationId }
          : undefined;
    if (!ref || !movedPastResult(payment, ref)) return payment;
    return stateAtResult(await deps.store.history(paymentId), ref) ?? payment;
  }

  /** A new payment is routed once, here; a repeated create of an existing one is not routed again. */
  async function deciderCommand(c: CommandEnvelope["command"], isNew: boolean): Promise<PaymentCommand> {
    if (c.type !== "CreatePayment") return c;
    return { ...c, route: isNew ? await deps.route(c) : NOT_ROUTED };
  }

  /** Run open PSP effects until none is left or one cannot progress; returns why it is blocked, if so. */
  async function settleEffects(
    at: PaymentActorState & { loaded: Loaded },
    ctx: { card: CardSecret | undefined; traceparent: string | undefined },
    resumed: boolean,
  ): Promise<string | undefined> {
    // Measured per PSP call, and logged with this payment's ids (paymentId, merchantId, traceId).
    // Gate outermost: a call the circuit refuses never reaches the PSP nor its duration histogram.
    const connectors = new Map(
      [...deps.connectors].map(([name, c]) => {
        const measured = instrumented(c, deps.metrics, log);
        return [name, deps.gate ? guarded(measured, deps.gate) : measured];
      }),
    );
    for (let effect = nextEffect(at.loaded.state); effect; effect = nextEffect(at.loaded.state)) {
      const payment = at.loaded.state;
      if (!payment) return undefined;
      const result = await runEffect(effect, {
        payment,
        connectors,
        ...ctx,
        resumed,
        now: () => deps.now().toISOString(),
      });
      if ("blocked" in result) return result.blocked;
      const decision = decide(payment, result);
      // No progress (a second "unknown"): stop here rather than spin; the redelivery retries.
      if (!decision.ok || decision.events.length === 0) return "no progress on an open PSP effect";
      await appendAndEvolve(at, decision.events, ctx.traceparent);
      resumed = false;
    }
    return undefined;
  }

  async function appendAndEvolve(
    at: PaymentActorState & { loaded: Loaded },
    events: Parameters<typeof evolveAll>[1],
    traceparent: string | undefined,
  ): Promise<void> {
    const before = at.loaded.state?.status;
    const seq = await deps.store.append(paymentId, at.loaded, [...events], traceparent);
    const state = evolveAll(at.loaded.state, events);
    at.loaded = { state, lastSeq: seq, eventNo: at.loaded.eventNo + events.length, replayed: 0 };
    at.sinceSnapshot += events.length;
    if (state) countAttempts(state, events, deps.metrics);
    if (state && state.status !== before && RESTING.has(state.status))
      deps.metrics.paymentsTerminal.inc({ status: state.status });
    if (state && state.status !== before)
      log.info({ status: state.status, from: before }, "payment status changed");
    if (at.sinceSnapshot >= deps.snapshotEvery) {
      await snapshot(at.loaded);
      at.sinceSnapshot = 0;
    }
  }

  async function snapshot(loaded: Loaded): Promise<void> {
    if (!loaded.state) return;
    await deps.snapshots.put(paymentId, {
      seq: loaded.lastSeq,
      eventNo: loaded.eventNo,
      state: loaded.state,
    });
  }
}

/** switchyard_attempts_total: each attempt's end, by PSP and class (approved for an authorization). */
function countAttempts(p: Payment, events: readonly PaymentEvent[], metrics: Metrics): void {
  for (const e of events) {
    const cls =
      e.type === "PaymentAuthorized"
        ? "approved"
        : e.type === "PaymentRequiresAction"
          ? "auth_required"
          : e.type === "PaymentDeclined" || e.type === "AttemptDeclined"
            ? (e.class ?? (e.soft ? "soft_decline" : "hard_decline"))
            : e.type === "AuthorizationFailed"
              ? (e.class ?? "technical")
              : e.type === "AuthorizationOutcomeUnknown"
                ? "unknown"
                : undefined;
    if (cls === undefined || !("attemptNo" in e)) continue;
    const psp = p.attempts.find((a) => a.no === e.attemptNo)?.psp;
    if (psp !== undefined) metrics.attempts.inc({ psp, class: cls });
  }
}

function rejected(code: string, message: string): CommandReply {
  return { kind: "rejected", rejection: { code, message } };
}

function outcomeLabel(o: PaymentOutcome): string {
  if (o.reply?.kind === "rejected") return "rejected";
  return o.disposition.kind === "ack" ? "ok" : o.disposition.kind;
}
