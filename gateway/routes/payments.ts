// The merchant payment routes under /v1: validate, then the shared operations (gateway/payment-service.ts:
// a command on PAY_CMD, a bounded wait for the actor's reply) answer with the payment object, 201/200
// at rest or 202 still under way. Merchants see only their own payments: another merchant's payment
// is answered exactly like an unknown one.
import { compiledSerializer } from "../serialize.ts";
import type { FastifyRequest } from "fastify";
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { PAYMENT_ID_SHAPE } from "../../actors/payment/core/ids.ts";
import type { FollowUp } from "../commands.ts";
import { bindLog, emptyBodyAsObject, idempotencyKeyHook, logFor } from "../context.ts";
import type { GatewayDeps } from "../deps.ts";
import { notFound, PaymentService, type CallContext, type Outcome } from "../payment-service.ts";
import {
  CancelBody,
  CaptureBody,
  CreatePaymentBody,
  IdempotencyHeaders,
  PaymentIdParams,
  RefundBody,
} from "../schemas.ts";
import { BODY_ERRORS, errorResponses, OPTIONAL_BODY, paymentResponse } from "./docs.ts";

export { supportedCurrencies } from "../payment-service.ts";

export const paymentRoutes: FastifyPluginCallbackZod<GatewayDeps> = (app, deps, done) => {
  const service = new PaymentService(deps);
  // A currency no PSP takes could only end `failed`/`no_route` after being queued and routed:
  // refused here instead, from what the PSP adapters declare.
  const currencies = service.currencies;
  // Our own views, serialized by a function compiled from their schema (no zod parse per answer).
  app.setSerializerCompiler(compiledSerializer);
  const security = [{ bearerAuth: [] }];
  const tags = ["payments"];

  function contextOf(req: FastifyRequest): CallContext {
    return {
      merchantId: req.merchantId,
      idempotencyKey: req.idempotencyKey,
      traceparent: req.trace.traceparent,
      log: logFor(req),
    };
  }

  const statusOf = <Done extends 200 | 201>(o: Outcome, done: Done): Done | 202 => (o.pending ? 202 : done);

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
      const envelope = service.createEnvelope(contextOf(req), req.body);
      bindLog(req, reply, { paymentId: envelope.command.paymentId });
      // A context made after bindLog: its log lines carry the payment id.
      const result = await service.create(contextOf(req), envelope);
      return reply.code(statusOf(result, 201)).send(result.view);
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
      const view = await service.own(contextOf(req), req.params.id);
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
        const result = await service.followUp(contextOf(req), paymentId, operation, req.body);
        return reply.code(statusOf(result, 200)).send(result.view);
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

/**
 * A path id goes on the request's log lines only when it has a payment id's shape: a path carries
 * whatever the client typed, a card number included (the preValidation hook refuses one first).
 */
function paymentLogFields(id: string): Record<string, string> {
  return PAYMENT_ID_SHAPE.test(id) ? { paymentId: id } : {};
}
