// Runs the PSP call an open effect asks for and turns the answer into a Record* command for the
// decider. The money rules live here: an attempt found open after a restart, or whose outcome is
// unknown, is first resolved by asking the same PSP for the status of the same idempotency key;
// only a PSP that has never seen the key is sent the authorization again (with the same key).
import type { CardSecret, PspConnector } from "../psp/contract.ts";
import type { PaymentCommand, RecordAuthorizationResult, RecordOperationResult } from "./core/commands.ts";
import type { Effect } from "./core/effects.ts";
import type { OpenAttempt, OpenOperation, Payment } from "./core/state.ts";

export type EffectContext = {
  payment: Payment;
  connectors: ReadonlyMap<string, PspConnector>;
  /** The card, when the command being handled carries it (CreatePayment); absent otherwise. */
  card: CardSecret | undefined;
  /** True when the attempt was opened before this actor took over (crash, redelivery). */
  resumed: boolean;
  traceparent: string | undefined;
  now: () => string;
};

/**
 * Why an effect cannot make progress now; the command is retried later — at `retryAt` when the
 * effect itself says when (a backoff the retry terms set), else after the redelivery backoff.
 * Nothing here waits: a backoff is a nak with a delay, never a sleep holding the actor.
 */
export type Blocked = { blocked: string; retryAt?: string };

export async function runEffect(effect: Effect, ctx: EffectContext): Promise<PaymentCommand | Blocked> {
  return effect.kind === "authorize"
    ? authorize(effect.attempt, ctx)
    : operate(effect.operation, { psp: effect.psp, pspReference: effect.pspReference }, ctx);
}

async function authorize(
  attempt: OpenAttempt,
  ctx: EffectContext,
): Promise<RecordAuthorizationResult | Blocked> {
  const psp = ctx.connectors.get(attempt.psp);
  if (!psp) return { blocked: `no connector for psp ${attempt.psp}` };
  const tp = ctx.traceparent !== undefined ? { traceparent: ctx.traceparent } : {};
  const record = (result: RecordAuthorizationResult["result"]): RecordAuthorizationResult => ({
    type: "RecordAuthorizationResult",
    attemptNo: attempt.no,
    result,
    at: ctx.now(),
  });
  // Backoff after a technical error, as the retry terms set it when the attempt was decided. Nothing
  // is sent before notBefore, so an attempt still inside its backoff needs no status query either.
  if (attempt.notBefore !== undefined && Date.parse(attempt.notBefore) > Date.parse(ctx.now()))
    return {
      blocked: `attempt ${attempt.no} backs off until ${attempt.notBefore}`,
      retryAt: attempt.notBefore,
    };
  if (attempt.status === "unknown" || ctx.resumed) {
    const status = await psp.status({ idempotencyKey: attempt.idempotencyKey, ...tp });
    if (status.found === true) return record(status.result);
    if (status.found === "unknown") return { blocked: `status of ${attempt.psp} unknown: ${status.code}` };
    // The PSP has never seen this key: it is safe to send the same attempt again.
  }
  if (!ctx.card) return { blocked: "attempt must be (re)sent but the card is not in this command" };
  const p = ctx.payment;
  const result = await psp.authorize({
    idempotencyKey: attempt.idempotencyKey,
    reference: p.id,
    amount: p.amount,
    currency: p.currency,
    capture: p.capture === "automatic",
    card: ctx.card,
    ...(p.returnUrl !== undefined && { returnUrl: p.returnUrl }),
    ...(attempt.threeDs === true && { threeDs: true }),
    ...tp,
  });
  return record(result);
}

async function operate(
  op: OpenOperation,
  held: { psp: string; pspReference: string },
  ctx: EffectContext,
): Promise<RecordOperationResult | Blocked> {
  const p = ctx.payment;
  const psp = ctx.connectors.get(held.psp);
  if (!psp) return { blocked: `no connector for psp ${held.psp}` };
  const base = {
    idempotencyKey: op.idempotencyKey,
    pspReference: held.pspReference,
    ...(ctx.traceparent !== undefined && { traceparent: ctx.traceparent }),
  };
  // PSP idempotency makes re-sending an open operation with its key safe, whatever happened before.
  const result =
    op.kind === "capture"
      ? await psp.capture({ ...base, amount: op.amount, currency: p.currency })
      : op.kind === "refund"
        ? await psp.refund({ ...base, amount: op.amount, currency: p.currency })
        : await psp.void(base);
  if (result.outcome === "technical_error")
    return { blocked: `${held.psp} did not take the ${op.kind}: ${result.code}` };
  return {
    type: "RecordOperationResult",
    operationId: op.id,
    result:
      result.outcome === "succeeded" || result.outcome === "accepted"
        ? { outcome: result.outcome, pspReference: result.pspReference }
        : { outcome: result.outcome, code: result.code },
    at: ctx.now(),
  };
}

/**
 * A payment waiting on its shopper's challenge, asked about (ResumePayment: a notification that
 * could not be verified named it): the PSP's own answer for the challenged attempt, when it has a
 * final one. Nothing is sent but a status query; undefined when the PSP has no final answer yet.
 */
export async function requeryChallenge(
  ctx: Omit<EffectContext, "card" | "resumed">,
): Promise<RecordAuthorizationResult | undefined> {
  const p = ctx.payment;
  if (p.status !== "requires_action") return undefined;
  const attempt = p.attempts.find((a) => a.status === "requires_action");
  const psp = attempt && ctx.connectors.get(attempt.psp);
  if (!attempt || !psp) return undefined;
  const status = await psp.status({
    idempotencyKey: attempt.idempotencyKey,
    ...(ctx.traceparent !== undefined && { traceparent: ctx.traceparent }),
  });
  if (status.found !== true) return undefined;
  const r = status.result;
  if (r.outcome !== "authorized" && r.outcome !== "declined") return undefined;
  return { type: "RecordAuthorizationResult", attemptNo: attempt.no, result: r, at: ctx.now() };
}
