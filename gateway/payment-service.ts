// The merchant payment operations both edges share (HTTP: gateway/routes/payments.ts, gRPC:
// gateway/grpc/): a validated request becomes a command on PAY_CMD, the gateway waits a bounded
// time for the actor's reply, and the answer is the payment, at rest or still under way. Merchants
// see only their own payments: another merchant's is answered exactly like an unknown one.
import { randomHex } from "../config/random.ts";
import type { PaymentView } from "../actors/payment/core/view.ts";
import type { PspCapabilities } from "../actors/policy/core/schemas.ts";
import type { CommandEnvelope, CommandReply } from "../actors/payment/core/wire.ts";
import {
  acceptedView,
  createPaymentEnvelope,
  deriveFingerprintKeys,
  followUpEnvelope,
  type FingerprintKeys,
  type FollowUp,
  type RequestContext,
} from "./commands.ts";
import type { GatewayDeps } from "./deps.ts";
import { ApiError, fromRejection } from "./errors.ts";
import type { CreatePaymentBody } from "./schemas.ts";

/** Who asks, under which key, and where the request's errors are logged. */
export type CallContext = {
  merchantId: string;
  idempotencyKey: string;
  traceparent?: string | undefined;
  log: { error(obj: Record<string, unknown>, msg: string): void };
  /** At most this long for the actor's reply (a gRPC deadline); the gateway's own wait otherwise. */
  waitMs?: number | undefined;
};

/**
 * pending: the payment is not at rest yet (HTTP 202); noReply: because no reply came within the wait
 * (the command is stored all the same, and an actor will handle it).
 */
export type Outcome = { pending: boolean; noReply: boolean; view: PaymentView };

export type PaymentServiceDeps = Pick<
  GatewayDeps,
  "bus" | "payments" | "cardKey" | "fingerprintKey" | "replyWaitMs" | "pspCapabilities"
>;

export class PaymentService {
  /** Every currency a configured PSP takes: any other is refused before anything is queued. */
  readonly currencies: string[];
  readonly #keys: FingerprintKeys;
  // Message ids unique per request without a UUID each: this gateway's random id and a counter.
  readonly #instance = randomHex(8);
  #requests = 0;

  constructor(private readonly deps: PaymentServiceDeps) {
    this.#keys = deriveFingerprintKeys(deps.fingerprintKey ?? deps.cardKey);
    this.currencies = supportedCurrencies(deps.pspCapabilities);
  }

  /** How long an operation waits for the actor's reply at most. */
  get replyWaitMs(): number {
    return this.deps.replyWaitMs;
  }

  /** The id a create under this key names (to log it before the command is sent). */
  createEnvelope(ctx: CallContext, body: CreatePaymentBody) {
    if (!this.currencies.includes(body.currency))
      throw new ApiError("currency_not_supported", `no PSP configured here takes ${body.currency}`, {
        currency: body.currency,
        supported: this.currencies,
      });
    // Added to the fresh context, not spread into a literal with it (V8's slow path, see bindLog).
    return createPaymentEnvelope(Object.assign(this.#context(ctx), { cardKey: this.deps.cardKey }), body);
  }

  async create(ctx: CallContext, envelope: ReturnType<PaymentService["createEnvelope"]>): Promise<Outcome> {
    const paymentId = envelope.command.paymentId;
    return this.#answer(await this.send(ctx, envelope), async () => {
      // The reader may fail while NATS recovers; the command is stored, so pending stays truthful.
      const current = await this.own(ctx, paymentId).catch(() => undefined);
      return current ?? acceptedView(envelope.command);
    });
  }

  async followUp(
    ctx: CallContext,
    paymentId: string,
    operation: FollowUp,
    body: { amount?: number | undefined },
  ): Promise<Outcome> {
    // Whose payment it is, the actor decides: it has the payment loaded anyway, and answers
    // another merchant's or an unknown one payment_not_found, deciding nothing. (Read here too,
    // it was one more replay of the payment per follow-up.)
    const envelope = followUpEnvelope(this.#context(ctx), paymentId, operation, body);
    return this.#answer(await this.send(ctx, envelope), async () => {
      const view = await this.own(ctx, paymentId);
      if (!view) throw notFound();
      return view;
    });
  }

  /** The payment if it exists and belongs to this merchant; service_unavailable when the store cannot say. */
  async own(
    ctx: Pick<CallContext, "merchantId" | "log">,
    paymentId: string,
  ): Promise<PaymentView | undefined> {
    let view: PaymentView | undefined;
    try {
      view = await this.deps.payments.get(paymentId);
    } catch (cause) {
      ctx.log.error({ err: cause }, "payment read failed");
      throw new ApiError(
        "service_unavailable",
        "payments cannot be read right now; retry later",
        {},
        { cause },
      );
    }
    return view && view.merchant_id === ctx.merchantId ? view : undefined;
  }

  #context(ctx: CallContext): RequestContext {
    return {
      merchantId: ctx.merchantId,
      idempotencyKey: ctx.idempotencyKey,
      keys: this.#keys,
      at: new Date().toISOString(),
    };
  }

  /**
   * Publishes the command and waits for the actor's reply (null: none within the wait). Also the
   * Stripe layer's (gateway/stripe/engine.ts), which answers replies its own way.
   */
  async send(
    ctx: Pick<CallContext, "log" | "traceparent" | "waitMs">,
    envelope: CommandEnvelope,
  ): Promise<CommandReply | null> {
    const paymentId = envelope.command.paymentId;
    try {
      // Our own worker's reply to our own command: trusted, not re-validated.
      return (await this.deps.bus.send(envelope.command, envelope, {
        waitMs: Math.min(this.deps.replyWaitMs, ctx.waitMs ?? Infinity),
        // Unique per request: retries are deduplicated by the payment entity, not by NATS.
        msgId: `${paymentId}:${this.#instance}:${(++this.#requests).toString(36)}`,
        ...(ctx.traceparent !== undefined && { traceparent: ctx.traceparent }),
      })) as CommandReply | null;
    } catch (cause) {
      ctx.log.error({ err: cause }, "command publish failed");
      throw new ApiError(
        "service_unavailable",
        "the request could not be queued; retry with the same Idempotency-Key",
        {},
        { cause },
      );
    }
  }

  /** settled → done; pending → pending; rejected → the error table; no reply → pending via `fallback`. */
  async #answer(reply: CommandReply | null, fallback: () => Promise<PaymentView>): Promise<Outcome> {
    if (reply === null) return { pending: true, noReply: true, view: await fallback() };
    switch (reply.kind) {
      case "settled":
        return { pending: false, noReply: false, view: reply.payment };
      case "pending":
        return { pending: true, noReply: false, view: reply.payment };
      case "rejected":
        throw fromRejection(reply.rejection);
      default: {
        const never: never = reply;
        return never;
      }
    }
  }
}

/** Every currency at least one configured PSP takes, sorted. */
export function supportedCurrencies(caps: ReadonlyMap<string, PspCapabilities>): string[] {
  return [...new Set([...caps.values()].flatMap((c) => c.currencies))].sort();
}

export function notFound(): ApiError {
  return new ApiError("payment_not_found", "no such payment");
}
