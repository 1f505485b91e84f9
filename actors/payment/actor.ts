// The payment actor: one nact actor per live payment hosts the pure decider and does its I/O.
// For each command: load (snapshot + tail; nothing for a payment believed new) → settle open PSP
// effects → decide → append with the fence → evolve → run the PSP effects the new events opened →
// reply. A fence failure means another process wrote this payment: forget the state, reload, decide
// again. Every other failure is classified once (actors/failures.ts) into retry-after or poison,
// and every outcome's fate (ack, nak after a delay, dead letter) is decided by actors/fate.ts.
import type { CardSecret } from "./core/card.ts";
import { openCard } from "./card-seal.ts";
import type { Logger } from "../../config/log.ts";
import type { Metrics } from "../../config/metrics.ts";
import type { CommandMeta } from "../../streams/command-consumer.ts";
import type { Disposition } from "../../streams/disposition.ts";
import { classify } from "../failures.ts";
import { dispositionFor, PoisonReason } from "../fate.ts";
import type { RoutingDecision } from "../policy/core/decision.ts";
import type { PspConnector } from "../psp/contract.ts";
import type { CreatePayment, PaymentCommand } from "./core/commands.ts";
import { decide } from "./core/decide.ts";
import { requeryChallenge, runEffect, type Blocked } from "./effect-runner.ts";
import { isAtRest, nextEffect } from "./core/effects.ts";
import type { PaymentEvent } from "./core/events.ts";
import { evolveAll } from "./core/evolve.ts";
import { NEW_PAYMENT, type Journal, type Loaded } from "./journal.ts";
import { movedPastResult, stateAtResult, type RequestRef } from "./core/result.ts";
import { RESTING, type Payment } from "./core/state.ts";
import { toView } from "./core/view.ts";
import { countAttempts } from "./attempt-metrics.ts";
import type { CommandEnvelope, CommandReply } from "./core/wire.ts";

export type PaymentActorDeps = {
  journal: Journal;
  /** Connectors as the worker wrapped them once (metrics, circuit breaker). */
  connectors: ReadonlyMap<string, PspConnector>;
  /** The current card key first, then retired ones still able to open commands in flight. */
  cardKeys: readonly Buffer[];
  /** Routes a new payment: policies + PSP health → decision. Called only for a payment believed new. */
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

export type PaymentMsg = { envelope: CommandEnvelope; meta: CommandMeta };

/** `atRest`: nothing is open, so the actor may leave memory at once. */
export type PaymentOutcome = { disposition: Disposition; reply?: CommandReply; atRest?: boolean };

/** `sinceSnapshot`: events of the payment after its last snapshot (replayed or appended here). */
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

type Ctx = {
  card: CardSecret | undefined;
  traceparent: string | undefined;
  /** Log fields of the message in hand (no child logger per message: they cost on every payment). */
  ids: { paymentId: string; merchantId?: string; traceId?: string };
};

type At = PaymentActorState & { loaded: Loaded };

export function paymentBehaviour(paymentId: string, deps: PaymentActorDeps) {
  // One per actor, not one per PSP effect (under tsx each named closure costs a defineProperty).
  const nowIso = (): string => deps.now().toISOString();
  return async (
    self: PaymentActorState,
    msg: PaymentMsg,
    reply: (o: PaymentOutcome) => void,
  ): Promise<PaymentActorState> => {
    const started = process.hrtime.bigint();
    const command = msg.envelope.command;
    const ctx: Ctx = {
      card: undefined,
      traceparent: msg.meta.traceparent,
      ids: {
        paymentId,
        merchantId: command.merchantId,
        ...(msg.meta.traceparent !== undefined && { traceId: msg.meta.traceparent.split("-")[1] }),
      },
    };
    let outcome: PaymentOutcome;
    let next = self;
    try {
      if (msg.envelope.sealedCard !== undefined)
        ctx.card = openCard(deps.cardKeys, msg.envelope.sealedCard, paymentId);
      [next, outcome] = await handleWithFence(self, msg, ctx);
    } catch (err) {
      const failure = classify(err);
      next = { loaded: undefined, sinceSnapshot: 0 };
      // A retry waits as long for a payment in memory as for one that is not (the delay grows with
      // the deliveries, so a stretch of NATS trouble does not burn through max_deliver in seconds).
      outcome = { disposition: dispositionFor(failure, msg.meta, self.loaded?.state?.retry) };
      if (failure.kind === "poison") {
        deps.log.error(
          logFields(ctx, { err, reason: failure.reason }),
          "command cannot succeed; dead-lettering",
        );
        outcome.reply = rejected(
          "command_dead_lettered",
          "the request could not be processed; operators were alerted",
        );
      } else {
        // PSP or NATS trouble mid-command: nothing is lost (the command is redelivered and the
        // events say exactly how far we got), but this copy of the state may be stale.
        deps.log.warn(logFields(ctx, { err, command: command.type }), "command failed; will be redelivered");
      }
    }
    trackWaiting(outcome);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    deps.metrics.commandDuration.observe({ type: command.type, result: outcomeLabel(outcome) }, seconds);
    reply(outcome);
    return next;
  };

  /** A nak'd command means the payment waits on a PSP (or on NATS) until its redelivery. */
  function trackWaiting(o: PaymentOutcome): void {
    if (!deps.waiting) return;
    const had = deps.waiting.has(paymentId);
    if (o.disposition.kind === "nak") deps.waiting.add(paymentId);
    else deps.waiting.delete(paymentId);
    if (had !== deps.waiting.has(paymentId)) deps.metrics.unresolvedEffects.set(deps.waiting.size);
  }

  async function handleWithFence(
    self: PaymentActorState,
    msg: PaymentMsg,
    ctx: Ctx,
  ): Promise<[PaymentActorState, PaymentOutcome]> {
    const command = msg.envelope.command;
    if (command.type === "CreatePayment" && !ctx.card) {
      // A create whose card is gone cannot be sent to any PSP; it is a malformed command, not a wait.
      return [
        self,
        {
          disposition: dispositionFor(
            { kind: "poison", reason: PoisonReason.undecodable, error: "CreatePayment without sealedCard" },
            msg.meta,
          ),
          reply: rejected("validation_error", "CreatePayment needs sealedCard"),
        },
      ];
    }
    let state = self;
    // A create reaching a fresh actor is almost always a new payment: append at expected sequence 0
    // without reading first. If it is not new, the fence says so and the next round loads it.
    let optimistic = command.type === "CreatePayment" && self.loaded === undefined;
    for (let round = 1; round <= MAX_FENCE_ROUNDS; round++) {
      try {
        return await handle(state, msg, ctx, optimistic);
      } catch (err) {
        if (classify(err).kind !== "fenced") throw err;
        if (!optimistic)
          deps.log.warn(logFields(ctx, { round }), "fenced: another writer appended; reloading");
        optimistic = false;
        state = { loaded: undefined, sinceSnapshot: 0 };
      }
    }
    return [state, { disposition: dispositionFor({ kind: "fenced" }, msg.meta) }];
  }

  async function handle(
    self: PaymentActorState,
    msg: PaymentMsg,
    ctx: Ctx,
    optimistic: boolean,
  ): Promise<[PaymentActorState, PaymentOutcome]> {
    const loaded = self.loaded ?? (optimistic ? NEW_PAYMENT : await deps.journal.load(paymentId));
    // The events replayed on top of the snapshot count toward the next one: a payment that leaves
    // memory at rest is snapshotted only once its tail is worth it (every snapshotEvery events).
    const at: At = self.loaded ? { ...self, loaded } : { loaded, sinceSnapshot: loaded.replayed };
    // Work left open by an earlier incarnation (crash, redelivery) comes first.
    let blocked = at.loaded.state ? await settleEffects(at, ctx, true) : undefined;
    const wire = msg.envelope.command;
    let decided: PaymentEvent[] = [];
    let command: PaymentCommand | undefined;
    if (wire.type !== "ResumePayment") {
      command = await deciderCommand(wire, at.loaded.state === undefined);
      const decision = decide(at.loaded.state, command);
      if (!decision.ok) {
        return [at, { disposition: done(msg), reply: { kind: "rejected", rejection: decision.rejection } }];
      }
      decided = decision.events;
      if (decided.length > 0) {
        await appendAndEvolve(at, decided, ctx);
        if (command.type === "CreatePayment") deps.onRouted?.(command, command.route);
        blocked = await settleEffects(at, ctx, false);
      }
    } else if (at.loaded.state?.status === "requires_action") {
      // Someone doubts what the shopper's challenge came to (an unverifiable notification named this
      // payment): the PSP is asked, never the notification believed.
      const answer = await requeryChallenge({
        payment: at.loaded.state,
        connectors: deps.connectors,
        traceparent: ctx.traceparent,
        now: nowIso,
      });
      const decision = answer && decide(at.loaded.state, answer);
      if (decision?.ok && decision.events.length > 0) {
        await appendAndEvolve(at, decision.events, ctx);
        blocked = await settleEffects(at, ctx, false);
      }
    }
    const payment = at.loaded.state;
    if (!payment)
      return [
        at,
        { disposition: done(msg), reply: rejected("payment_not_found", `no payment ${paymentId}`) },
      ];
    if (blocked) {
      // A backoff the payment set itself is short: the waiting client gets the answer of the
      // redelivery (it carries the same reply inbox).
      if (blocked.retryAt) {
        const backoff = { kind: "backoff", notBefore: blocked.retryAt, now: deps.now() } as const;
        return [at, { disposition: dispositionFor(backoff, msg.meta, payment.retry) }];
      }
      // A wait on a PSP is answered now: pending. The janitor owns a resume's retries (it looks
      // again with its own backoff), so a resume is never nak'd nor dead-lettered.
      const pending: CommandReply = { kind: "pending", payment: toView(payment) };
      const waits = { kind: "waits_on_psp", janitor: wire.type === "ResumePayment" } as const;
      const disposition = dispositionFor(waits, msg.meta, payment.retry);
      deps.log.warn(
        logFields(ctx, {
          reason: blocked.blocked,
          deliveryCount: msg.meta.deliveryCount,
          retryInMs: disposition.kind === "nak" ? disposition.delayMs : null,
        }),
        "payment waits on a PSP; retrying later",
      );
      return [at, { disposition, reply: pending }];
    }
    const answer = command && decided.length === 0 ? await firstResult(payment, command) : payment;
    return [
      at,
      {
        disposition: done(msg),
        reply: { kind: "settled", payment: toView(answer) },
        atRest: isAtRest(payment),
      },
    ];
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
    return stateAtResult(await deps.journal.history(paymentId), ref) ?? payment;
  }

  /** A new payment is routed once, here; a repeated create of an existing one is not routed again. */
  async function deciderCommand(
    c: Exclude<CommandEnvelope["command"], { type: "ResumePayment" }>,
    isNew: boolean,
  ): Promise<PaymentCommand> {
    if (c.type !== "CreatePayment") return c;
    const route = isNew ? await deps.route(c) : NOT_ROUTED;
    return Object.assign({}, c, { route }); // not `{ ...c, route }`: see logFields
  }

  /** Run open PSP effects until none is left or one cannot progress; returns why it is blocked, if so. */
  async function settleEffects(at: At, ctx: Ctx, resumed: boolean): Promise<Blocked | undefined> {
    for (let effect = nextEffect(at.loaded.state); effect; effect = nextEffect(at.loaded.state)) {
      const payment = at.loaded.state;
      if (!payment) return undefined;
      const result = await runEffect(effect, {
        payment,
        connectors: deps.connectors,
        card: ctx.card,
        traceparent: ctx.traceparent,
        resumed,
        now: nowIso,
      });
      if ("blocked" in result) return result;
      const decision = decide(payment, result);
      // No progress (a second "unknown"): stop here rather than spin; the redelivery retries.
      if (!decision.ok || decision.events.length === 0)
        return { blocked: "no progress on an open PSP effect" };
      await appendAndEvolve(at, decision.events, ctx);
      resumed = false;
    }
    return undefined;
  }

  async function appendAndEvolve(at: At, events: readonly PaymentEvent[], ctx: Ctx): Promise<void> {
    const before = at.loaded.state?.status;
    const { seq, hash } = await deps.journal.append(paymentId, at.loaded, events, ctx.traceparent);
    const state = evolveAll(at.loaded.state, events);
    at.loaded = {
      state,
      lastSeq: seq,
      lastHash: hash,
      eventNo: at.loaded.eventNo + events.length,
      replayed: 0,
    };
    at.sinceSnapshot += events.length;
    if (state) countAttempts(state, events, deps.metrics);
    for (const e of events)
      if (e.type === "AuthorizationRequested" && e.threeDs === true) {
        deps.metrics.stepUps.inc({ psp: e.psp });
        deps.log.info(logFields(ctx, { psp: e.psp, attemptNo: e.attemptNo }), "3-D Secure step-up requested");
      }
    if (state && state.status !== before) {
      if (RESTING.has(state.status)) deps.metrics.paymentsTerminal.inc({ status: state.status });
      deps.log.info(logFields(ctx, { status: state.status, from: before ?? null }), "payment status changed");
    }
    if (at.sinceSnapshot >= deps.snapshotEvery) {
      await deps.journal.snapshot(paymentId, at.loaded);
      at.sinceSnapshot = 0;
    }
  }
}

/**
 * A log line's fields: the message's ids, then the line's own. Object.assign, not `{ ...ids, … }`:
 * on Node 20 a literal that spreads an object and then adds keys it lacks takes V8's slow path
 * (~2 µs against ~0.1 µs, measured), and two such lines are written per payment.
 */
function logFields(ctx: Ctx, fields: Record<string, unknown>): Record<string, unknown> {
  return Object.assign({}, ctx.ids, fields);
}

function done(msg: PaymentMsg): Disposition {
  return dispositionFor({ kind: "done" }, msg.meta);
}

function rejected(code: string, message: string): CommandReply {
  return { kind: "rejected", rejection: { code, message } };
}

function outcomeLabel(o: PaymentOutcome): string {
  if (o.reply?.kind === "rejected") return "rejected";
  return o.disposition.kind === "ack" ? "ok" : o.disposition.kind;
}
