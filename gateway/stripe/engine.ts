// What the Stripe routes share: reading a merchant's own payment, sending a command on the same
// CommandBus as the native API and reading the actor's reply, and confirming an intent (building the
// native CreatePayment from the intent and its card). No second payment engine: a payment intent is a
// Switchyard payment, its id `pay_X` for `pi_X`, created with the Idempotency-Key `stripe:<seed>`,
// so a confirm sent twice reaches the same payment entity, which charges once.
import { randomHex } from "../../config/random.ts";
import type { FastifyRequest } from "fastify";
import { paymentIdFor } from "../../actors/payment/core/ids.ts";
import type { PaymentView } from "../../actors/payment/core/view.ts";
import type { CommandEnvelope, CommandReply } from "../../actors/payment/core/wire.ts";
import {
  chargeIdOf,
  lastPaymentErrorOf,
  paymentIntentOf,
  stripeDeclineOf,
} from "../../actors/webhooks/core/stripe-objects.ts";
import {
  acceptedView,
  createPaymentEnvelope,
  type FingerprintKeys,
  type RequestContext,
} from "../commands.ts";
import { logFor } from "../context.ts";
import type { GatewayDeps } from "../deps.ts";
import { ApiError, fromRejection } from "../errors.ts";
import { PaymentService } from "../payment-service.ts";
import { StripeApiError, unexpectedState } from "./errors.ts";
import { nativeBody, type CardData } from "./params.ts";
import type { IntentRecord, StripeStores } from "./stores.ts";

export class StripeEngine {
  /** The native API's command path and reader: one way a payment is sent and read, for every door. */
  readonly #service: PaymentService;

  constructor(
    readonly deps: GatewayDeps,
    readonly stores: StripeStores,
    readonly keys: FingerprintKeys,
  ) {
    this.#service = new PaymentService(deps);
  }

  context(req: FastifyRequest, idempotencyKey?: string): RequestContext {
    const key = idempotencyKey ?? headerKey(req) ?? `stripe-random:${randomHex(12)}`;
    return { merchantId: req.merchantId, idempotencyKey: key, keys: this.keys, at: new Date().toISOString() };
  }

  /** The payment if it exists and is this merchant's; a read failure is a 503 (the SDK retries). */
  payment(req: FastifyRequest, paymentId: string): Promise<PaymentView | undefined> {
    return this.#service.own({ merchantId: req.merchantId, log: logFor(req) }, paymentId);
  }

  /** The command on the native API's path (gateway/payment-service.ts), the actor's reply or null. */
  send(req: FastifyRequest, envelope: CommandEnvelope): Promise<CommandReply | null> {
    return this.#service.send({ log: logFor(req), traceparent: req.trace.traceparent }, envelope);
  }

  /** The payment after a command: the reply's view, or (no reply in time) what is stored now. */
  async after(req: FastifyRequest, reply: CommandReply | null, paymentId: string): Promise<PaymentView> {
    if (reply?.kind === "rejected") throw fromRejection(reply.rejection);
    if (reply !== null) return reply.payment;
    const view = await this.payment(req, paymentId);
    if (!view) throw new ApiError("service_unavailable", "the request is queued; retrieve it shortly");
    return view;
  }

  /** The Switchyard payment of an intent record: its key and so its id are the intent's. */
  static paymentKeyOf(seed: string): string {
    return `stripe:${seed}`;
  }

  static paymentIdOf(merchantId: string, paymentKey: string): string {
    return paymentIdFor(merchantId, paymentKey);
  }

  /**
   * Sends the intent's CreatePayment with its card and answers the intent; a decline is Stripe's
   * 402 card_error carrying the intent. Idempotent: the payment key is the intent's.
   */
  async confirm(req: FastifyRequest, record: IntentRecord, card: CardData): Promise<Record<string, unknown>> {
    const body = nativeBody({
      amount: record.amount,
      currency: record.currency,
      capture: record.capture,
      card,
      metadata: record.metadata,
      return_url: record.return_url ?? undefined,
    });
    const ctx = { ...this.context(req, record.paymentKey), cardKey: this.deps.cardKey };
    const envelope = createPaymentEnvelope(ctx, body);
    const paymentId = envelope.command.paymentId;
    let view: PaymentView;
    const reply = await this.send(req, envelope);
    if (reply?.kind === "rejected") {
      if (reply.rejection.code === "idempotency_key_reused")
        throw unexpectedState("This PaymentIntent was confirmed before with other parameters.");
      throw fromRejection(reply.rejection);
    }
    if (reply !== null) view = reply.payment;
    else view = (await this.payment(req, paymentId).catch(() => undefined)) ?? acceptedView(envelope.command);
    const intent = paymentIntentOf(view, extrasOf(record));
    const error = lastPaymentErrorOf(view, record.payment_method);
    if (error) {
      const d =
        view.status === "declined" ? stripeDeclineOf(view.decline_code) : { code: "processing_error" };
      throw new StripeApiError(402, "card_error", error.message, {
        ...d,
        charge: chargeIdOf(view.id),
        payment_intent: intent,
      });
    }
    return intent;
  }
}

export function headerKey(req: FastifyRequest): string | undefined {
  const raw = req.headers["idempotency-key"];
  return typeof raw === "string" && raw !== "" ? raw : undefined;
}

export function extrasOf(r: IntentRecord | undefined) {
  return r ? { description: r.description, payment_method: r.payment_method, return_url: r.return_url } : {};
}

/** An intent no payment exists for yet: what its record says. */
export function unconfirmedIntent(r: IntentRecord): Record<string, unknown> {
  const status =
    r.canceled_at !== null
      ? "canceled"
      : r.confirmed || r.payment_method !== null
        ? "requires_confirmation"
        : "requires_payment_method";
  return {
    id: r.id,
    object: "payment_intent",
    amount: r.amount,
    amount_capturable: 0,
    amount_received: 0,
    capture_method: r.capture,
    canceled_at: r.canceled_at,
    cancellation_reason: r.canceled_at !== null ? "requested_by_customer" : null,
    client_secret: null,
    confirmation_method: "automatic",
    created: r.created,
    currency: r.currency.toLowerCase(),
    description: r.description,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    metadata: r.metadata,
    next_action: null,
    payment_method: r.payment_method,
    payment_method_types: ["card"],
    status,
  };
}

/** The intent as it stands: the payment's when there is one, else the record's. */
export function intentOf(
  view: PaymentView | undefined,
  record: IntentRecord | undefined,
): Record<string, unknown> | undefined {
  if (view) return paymentIntentOf(view, extrasOf(record));
  return record ? unconfirmedIntent(record) : undefined;
}
