// Stripe's charge retrieval (GET /v1/charges/:id: the payment's card authorization and captures) and
// refund routes under /v1/refunds: create (a RefundPayment command on the intent's payment,
// its operation id derived from the Idempotency-Key as the native API does), retrieve, and list for
// one payment intent or charge. A refund id `re_<payment><operation>` names both, so nothing is
// stored beside the payment's own events.
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { PaymentView } from "../../actors/payment/core/view.ts";
import {
  chargeOf,
  paymentIdOf,
  refundIdParts,
  refundOf,
  refundsOf,
} from "../../actors/webhooks/core/stripe-objects.ts";
import { operationIdFor } from "../../actors/payment/core/ids.ts";
import { followUpEnvelope } from "../commands.ts";
import type { StripeEngine } from "./engine.ts";
import { invalidRequest, resourceMissing } from "./errors.ts";
import type { StripeIdempotency } from "./idempotency.ts";
import { CreateRefundParams, ListRefundsParams, RetrieveParams, parseParams } from "./params.ts";
import { paramsOf, queryOf } from "./request.ts";

/** The payment a `payment_intent` or `charge` parameter names; Stripe's errors otherwise. */
function targetOf(p: { payment_intent?: string | undefined; charge?: string | undefined }): string {
  if (p.payment_intent !== undefined && p.charge !== undefined)
    throw invalidRequest("Pass either payment_intent or charge, not both.", "charge");
  if (p.payment_intent !== undefined) {
    const id = paymentIdOf(p.payment_intent, "pi");
    if (id === undefined) throw resourceMissing("payment_intent", p.payment_intent, "payment_intent");
    return id;
  }
  if (p.charge !== undefined) {
    const id = paymentIdOf(p.charge, "ch");
    if (id === undefined) throw resourceMissing("charge", p.charge, "charge");
    return id;
  }
  throw invalidRequest(
    "Missing required param: payment_intent (or charge).",
    "payment_intent",
    "parameter_missing",
  );
}

export function refundRoutes(
  app: FastifyInstance,
  o: { engine: StripeEngine; idem: StripeIdempotency },
): void {
  const { engine, idem } = o;

  async function own(req: FastifyRequest, paymentId: string, what: string, id: string, param: string) {
    const view = await engine.payment(req, paymentId);
    if (!view) throw resourceMissing(what, id, param);
    return view;
  }

  app.post("/refunds", async (req, reply) => {
    const p = parseParams(CreateRefundParams, paramsOf(req));
    const paymentId = targetOf(p);
    await idem.run(req, reply, p, async () => {
      const ctx = engine.context(req);
      const amount = p.amount !== undefined ? { amount: p.amount } : {};
      const envelope = followUpEnvelope(ctx, paymentId, "refund", amount);
      const after = await engine.after(req, await engine.send(req, envelope), paymentId);
      const operationId = operationIdFor(paymentId, "refund", ctx.idempotencyKey);
      // Not in the view yet (the actor has not answered in time): queued, so pending.
      const op = after.operations.find((x) => x.id === operationId) ?? {
        id: operationId,
        type: "refund",
        amount: p.amount ?? after.captured_amount - after.refunded_amount,
        status: "pending",
        code: null,
        created_at: ctx.at,
      };
      return { status: 200, body: refundOf(after, op) };
    });
  });

  app.get<{ Params: { id: string } }>("/charges/:id", async (req) => {
    parseParams(RetrieveParams, queryOf(req));
    const paymentId = paymentIdOf(req.params.id, "ch");
    if (paymentId === undefined) throw resourceMissing("charge", req.params.id, "id");
    const view = await own(req, paymentId, "charge", req.params.id, "id");
    if (view.attempts.length === 0) throw resourceMissing("charge", req.params.id, "id");
    return chargeOf(view);
  });

  app.get<{ Params: { id: string } }>("/refunds/:id", async (req) => {
    parseParams(RetrieveParams, queryOf(req));
    const parts = refundIdParts(req.params.id);
    if (!parts) throw resourceMissing("refund", req.params.id, "id");
    const view = await own(req, parts.paymentId, "refund", req.params.id, "id");
    const op = view.operations.find((x) => x.id === parts.operationId && x.type === "refund");
    if (!op) throw resourceMissing("refund", req.params.id, "id");
    return refundOf(view, op);
  });

  app.get("/refunds", async (req) => {
    const p = parseParams(ListRefundsParams, queryOf(req));
    const paymentId = targetOf(p);
    const view: PaymentView = await own(req, paymentId, "payment_intent", paymentId, "payment_intent");
    let refunds = refundsOf(view);
    if (p.starting_after !== undefined) {
      const parts = refundIdParts(p.starting_after);
      const at = parts ? refunds.findIndex((r) => r.id === parts.operationId) : -1;
      if (at < 0) throw resourceMissing("refund", p.starting_after, "starting_after");
      refunds = refunds.slice(at + 1);
    }
    const limit = p.limit ?? 10;
    return {
      object: "list",
      data: refunds.slice(0, limit).map((op) => refundOf(view, op)),
      has_more: refunds.length > limit,
      url: "/v1/refunds",
    };
  });
}
