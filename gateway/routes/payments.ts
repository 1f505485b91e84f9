// The merchant payment routes under /v1: validate, turn the request into a command on PAY_CMD, wait
// a bounded time for the actor's reply, and answer with the payment object. Merchants see only
// their own payments: another merchant's payment is answered exactly like an unknown one.
import { randomHex } from "../../config/random.ts";
import { compiledSerializer } from "../serialize.ts";
import type { FastifyRequest } from "fastify";
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { PAYMENT_ID_SHAPE } from "../../actors/payment/core/ids.ts";
import type { PaymentView } from "../../actors/payment/core/view.ts";
import type { PspCapabilities } from "../../actors/policy/core/schemas.ts";
import type { CommandEnvelope, CommandReply } from "../../actors/payment/core/wire.ts";
import {
  acceptedView,
  createPaymentEnvelope,
  deriveFingerprintKeys,
  followUpEnvelope,
  type FollowUp,
  type RequestContext,
} from "../commands.ts";
import { bindLog, emptyBodyAsObject, idempotencyKeyHook, logFor } from "../context.ts";
import type { GatewayDeps } from "../deps.ts";
import { ApiError, fromRejection } from "../errors.ts";
import {
  CancelBody,
  CaptureBody,
  CreatePaymentBody,
  IdempotencyHeaders,
  PaymentIdParams,
  RefundBody,
} from "../schemas.ts";
import { BODY_ERRORS, errorResponses, OPTIONAL_BODY, paymentResponse } from "./docs.ts";

type Answer<Done extends 200 | 201> = { status: Done | 202; view: PaymentView };

export const paymentRoutes: FastifyPluginCallbackZod<GatewayDeps> = (app, deps, done) => {
  const keys = deriveFingerprintKeys(deps.fingerprintKey ?? deps.cardKey);
  // A currency no PSP takes could only end `failed`/`no_route` after being queued and routed:
  // refused here instead, from what the PSP adapters declare.
  const currencies = supportedCurrencies(deps.pspCapabilities);
  // Our own views, serialized by a function compiled from their schema (no zod parse per answer).
  app.setSerializerCompiler(compiledSerializer);
  // Message ids unique per request without a UUID each: this gateway's random id and a counter.
  const instance = randomHex(8);
  let requests = 0;
  const security = [{ bearerAuth: [] }];
  const tags = ["payments"];

  function contextOf(req: FastifyRequest): RequestContext {
    return {
      merchantId: req.merchantId,
      idempotencyKey: req.idempotencyKey,
      keys,
      at: new Date().toISOString(),
    };
  }

  /** The payment if it exists and belongs to this merchant; 503 when the event store cannot say. */
  async function ownPayment(req: FastifyRequest, paymentId: string): Promise<PaymentView | undefined> {
    let view: PaymentView | undefined;
    try {
      view = await deps.payments.get(paymentId);
    } catch (cause) {
      logFor(req).error({ err: cause }, "payment read failed");
      throw new ApiError(
        "service_unavailable",
        "payments cannot be read right now; retry later",
        {},
        { cause },
      );
    }
    return view && view.merchant_id === req.merchantId ? view : undefined;
  }

  async function send(req: FastifyRequest, envelope: CommandEnvelope): Promise<CommandReply | null> {
    const paymentId = envelope.command.paymentId;
    try {
      // Our own worker's reply to our own command: trusted, not re-validated.
      return (await deps.bus.send(envelope.command, envelope, {
        waitMs: deps.replyWaitMs,
        // Unique per HTTP request: retries are deduplicated by the payment entity, not by NATS.
        msgId: `${paymentId}:${instance}:${(++requests).toString(36)}`,
        traceparent: req.trace.traceparent,
      })) as CommandReply | null;
    } catch (cause) {
      logFor(req).error({ err: cause }, "command publish failed");
      throw new ApiError(
        "service_unavailable",
        "the request could not be queued; retry with the same Idempotency-Key",
        {},
        { cause },
      );
    }
  }

  /** settled → `doneStatus`; pending → 202; rejected → the error table; no reply → 202 via `fallback`. */
  async function answer<Done extends 200 | 201>(
    reply: CommandReply | null,
    doneStatus: Done,
    fallback: () => Promise<PaymentView>,
  ): Promise<Answer<Done>> {
    if (reply === null) return { status: 202, view: await fallback() };
    switch (reply.kind) {
      case "settled":
        return { status: doneStatus, view: reply.payment };
      case "pending":
        return { status: 202, view: reply.payment };
      case "rejected":
        throw fromRejection(reply.rejection);
      default: {
        const never: never = reply;
        return never;
      }
    }
  }

  app.post(
    "/payments",
    {
      onRequest: idempotencyKeyHook,
      schema: {
        summary: "Create a payment",
        description:
          "Authorizes (and with capture=automatic captures) a card payment. Answers 201 once the " +
          "payment is at rest (authorized, captured, declined, failed, requires_action). When that " +
          "takes longer than the gateway waits, answers 202 with the current state; if no actor has " +
          "handled the request yet, that is a minimal payment object with status `created`, built " +
          "from the request: it is accepted and queued, and GET /v1/payments/{id} shows its progress. " +
          "A decline is a payment with status `declined`, not an HTTP error. Repeating the request " +
          "with the same Idempotency-Key yields the same payment; another body with that key is 422. " +
          `Only currencies a configured PSP takes are accepted (here: ${currencies.join(", ")}); any ` +
          "other is 422 currency_not_supported, with the accepted ones in details.supported.",
        tags,
        security,
        headers: IdempotencyHeaders,
        body: CreatePaymentBody,
        response: {
          201: paymentResponse("The payment, at rest."),
          202: paymentResponse("Accepted, not at rest yet (status `created` if still queued)."),
          ...errorResponses(
            BODY_ERRORS,
            "unauthorized",
            "insufficient_scope",
            "idempotency_key_missing",
            "idempotency_key_reused",
            "currency_not_supported",
            "service_unavailable",
            "command_dead_lettered",
          ),
        },
      },
    },
    async (req, reply) => {
      if (!currencies.includes(req.body.currency))
        throw new ApiError("currency_not_supported", `no PSP configured here takes ${req.body.currency}`, {
          currency: req.body.currency,
          supported: currencies,
        });
      // Added to the fresh context, not spread into a literal with it (V8's slow path, see bindLog).
      const envelope = createPaymentEnvelope(
        Object.assign(contextOf(req), { cardKey: deps.cardKey }),
        req.body,
      );
      const paymentId = envelope.command.paymentId;
      bindLog(req, reply, { paymentId });
      const result = await answer(await send(req, envelope), 201, async () => {
        // The reader may fail while NATS recovers; the command is stored, so 202 stays truthful.
        const current = await ownPayment(req, paymentId).catch(() => undefined);
        return current ?? acceptedView(envelope.command);
      });
      return reply.code(result.status).send(result.view);
    },
  );

  app.get(
    "/payments/:id",
    {
      schema: {
        summary: "Retrieve a payment",
        tags,
        security,
        params: PaymentIdParams,
        response: {
          200: paymentResponse("The payment."),
          ...errorResponses(
            "unauthorized",
            "insufficient_scope",
            "validation_error",
            "payment_not_found",
            "service_unavailable",
          ),
        },
      },
    },
    async (req, reply) => {
      bindLog(req, reply, paymentLogFields(req.params.id));
      const view = await ownPayment(req, req.params.id);
      if (!view) throw notFound();
      return reply.code(200).send(view);
    },
  );

  function followUp(
    operation: FollowUp,
    body: typeof CaptureBody | typeof RefundBody | typeof CancelBody,
    summary: string,
    description: string,
  ): void {
    const url = operation === "refund" ? "/payments/:id/refunds" : `/payments/:id/${operation}`;
    app.post(
      url,
      {
        onRequest: idempotencyKeyHook,
        preValidation: emptyBodyAsObject,
        schema: {
          summary,
          description,
          tags,
          security,
          headers: IdempotencyHeaders,
          params: PaymentIdParams,
          body,
          [OPTIONAL_BODY]: true,
          response: {
            200: paymentResponse("The payment after the operation."),
            202: paymentResponse("Accepted; the PSP has not answered yet."),
            ...errorResponses(
              BODY_ERRORS,
              "unauthorized",
              "insufficient_scope",
              "idempotency_key_missing",
              "idempotency_key_reused",
              "payment_not_found",
              "invalid_state_transition",
              "operation_in_progress",
              "amount_too_large",
              "service_unavailable",
              "command_dead_lettered",
            ),
          },
        },
      },
      async (req, reply) => {
        const paymentId = req.params.id;
        bindLog(req, reply, paymentLogFields(paymentId));
        // Whose payment it is, the actor decides: it has the payment loaded anyway, and answers
        // another merchant's or an unknown one payment_not_found, deciding nothing. (Read here too,
        // it was one more replay of the payment per follow-up.)
        const envelope = followUpEnvelope(contextOf(req), paymentId, operation, req.body);
        const result = await answer(await send(req, envelope), 200, async () => {
          const view = await ownPayment(req, paymentId);
          if (!view) throw notFound();
          return view;
        });
        return reply.code(result.status).send(result.view);
      },
    );
  }

  followUp(
    "capture",
    CaptureBody,
    "Capture an authorized payment",
    "Captures `amount` (default: the whole authorized amount; at most that).",
  );
  followUp(
    "cancel",
    CancelBody,
    "Cancel an uncaptured payment",
    "Voids the authorization. Takes no body, or `{}`.",
  );
  followUp(
    "refund",
    RefundBody,
    "Refund a captured payment",
    "Refunds `amount` (default: what remains). Partial refunds add up, never above the captured amount.",
  );

  done();
};

/** Every currency at least one configured PSP takes, sorted. */
export function supportedCurrencies(caps: ReadonlyMap<string, PspCapabilities>): string[] {
  return [...new Set([...caps.values()].flatMap((c) => c.currencies))].sort();
}

/**
 * A path id goes on the request's log lines only when it has a payment id's shape: a path carries
 * whatever the client typed, a card number included (the preValidation hook refuses one first).
 */
function paymentLogFields(id: string): Record<string, string> {
  return PAYMENT_ID_SHAPE.test(id) ? { paymentId: id } : {};
}

function notFound(): ApiError {
  return new ApiError("payment_not_found", "no such payment");
}
