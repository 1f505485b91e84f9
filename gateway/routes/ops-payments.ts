// The operators' view of payments: search across merchants (the payments read model), a payment's
// timeline (its events from the record, its attempts, settlement lines and exceptions: the one page
// that explains a payment), the stuck list with why, and two fixes — requery (ask the PSP again) and
// resolve (record an outcome confirmed with the PSP; the decider says whether it may) — each audited.
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { PAYMENTS_READ_MODEL } from "../../actors/projections/payments.ts";
import { BadCursorError, searchPayments, stuckPayments } from "../../actors/projections/search.ts";
import type { CommandEnvelope, CommandReply } from "../../actors/payment/core/wire.ts";
import { ID_PATTERN } from "../../actors/payment/core/contract.ts";
import { PaymentStatus } from "../../actors/payment/core/state.ts";
import type { OpsDeps } from "../deps.ts";
import { ApiError, fromRejection } from "../errors.ts";
import { readModelsReady } from "../read-models.ts";
import { PaymentResponse } from "../schemas.ts";
import { BODY_ERRORS, errorResponses, OPERATOR_ERRORS } from "./docs.ts";
import { audited, OPS_SECURITY as security, OPS_TAGS as tags } from "./ops-common.ts";

const Row = z.object({
  id: z.string(),
  merchant_id: z.string(),
  status: z.string(),
  psp: z.string().nullable(),
  amount: z.number().int(),
  currency: z.string(),
  captured_amount: z.number().int(),
  refunded_amount: z.number().int(),
  reference: z.string().nullable(),
  last4: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});

const SearchQuery = z.strictObject({
  q: z
    .string()
    .trim()
    .min(1)
    .max(256)
    .optional()
    .describe(
      "An exact payment id, merchant reference or PSP reference (the authorization's, or a capture's, refund's or void's).",
    ),
  merchant: z.string().regex(ID_PATTERN).optional(),
  status: z.enum(Object.values(PaymentStatus)).optional(),
  psp: z.string().max(32).optional(),
  created_from: z.iso.datetime().optional(),
  created_to: z.iso.datetime().optional(),
  amount_min: z.coerce.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
  amount_max: z.coerce.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/)
    .optional(),
  reference: z.string().max(256).optional(),
  last4: z
    .string()
    .regex(/^\d{4}$/)
    .optional(),
  cursor: z.string().max(300).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const IdParams = z.object({ id: z.string().regex(ID_PATTERN) });
const Reason = z.string().trim().min(1).max(500);

export const opsPaymentRoutes: FastifyPluginCallbackZod<OpsDeps> = (app, ops, done) => {
  const p = ops.payments;
  if (!p) {
    done();
    return;
  }
  const db = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof BadCursorError)
        throw new ApiError("validation_error", err.message, {
          issues: [{ in: "querystring", path: "cursor", code: "custom", message: err.message }],
        });
      if (err instanceof ApiError) throw err;
      throw new ApiError(
        "service_unavailable",
        "payments cannot be read right now; retry later",
        {},
        { cause: err },
      );
    }
  };

  app.get(
    "/payments",
    {
      schema: {
        summary: "Search payments across merchants",
        description:
          "Newest first, from the payments read model (fresh within a second); page with `cursor`.",
        tags,
        security,
        querystring: SearchQuery,
        response: {
          200: z.object({ payments: z.array(Row), next_cursor: z.string().nullable() }),
          ...errorResponses(OPERATOR_ERRORS, "validation_error", "read_model_rebuilding"),
        },
      },
    },
    async (req, reply) => {
      const q = req.query;
      await db(() => readModelsReady(p.sql, [PAYMENTS_READ_MODEL]));
      const r = await db(() =>
        searchPayments(p.sql, {
          limit: q.limit,
          ...(q.q !== undefined && { q: q.q }),
          ...(q.merchant !== undefined && { merchant: q.merchant }),
          ...(q.status !== undefined && { status: q.status }),
          ...(q.psp !== undefined && { psp: q.psp }),
          ...(q.created_from !== undefined && { createdFrom: q.created_from }),
          ...(q.created_to !== undefined && { createdTo: q.created_to }),
          ...(q.amount_min !== undefined && { amountMin: q.amount_min }),
          ...(q.amount_max !== undefined && { amountMax: q.amount_max }),
          ...(q.currency !== undefined && { currency: q.currency }),
          ...(q.reference !== undefined && { reference: q.reference }),
          ...(q.last4 !== undefined && { last4: q.last4 }),
          ...(q.cursor !== undefined && { cursor: q.cursor }),
        }),
      );
      return reply.send({ payments: r.payments, next_cursor: r.nextCursor });
    },
  );

  app.get(
    "/payments/stuck",
    {
      schema: {
        summary:
          "Payments not at rest, with a PSP effect open, or awaiting a PSP's notification, for longer than a threshold",
        tags,
        security,
        querystring: z.strictObject({
          older_than_s: z.coerce
            .number()
            .int()
            .min(0)
            .max(30 * 86_400)
            .default(300),
          limit: z.coerce.number().int().min(1).max(500).default(100),
        }),
        response: {
          200: z.object({
            payments: z.array(Row.extend({ since: z.string(), age_s: z.number().int(), why: z.string() })),
          }),
          ...errorResponses(OPERATOR_ERRORS, "validation_error", "read_model_rebuilding"),
        },
      },
    },
    async (req, reply) => {
      await db(() => readModelsReady(p.sql, [PAYMENTS_READ_MODEL]));
      const rows = await db(() => stuckPayments(p.sql, req.query.older_than_s, new Date(), req.query.limit));
      return reply.send({ payments: rows });
    },
  );

  app.get(
    "/payments/:id/timeline",
    {
      schema: {
        summary: "Everything that happened to a payment",
        description:
          "Its events in order from the record (sequence, time, type, data without secrets, trace id), its " +
          "PSP attempts with their request ids, its settlement lines and reconciliation exceptions, and " +
          "its merchant webhook deliveries with every attempt.",
        tags,
        security,
        params: IdParams,
        response: {
          200: z.object({
            payment: PaymentResponse,
            events: z.array(
              z.object({
                seq: z.number().int(),
                event_no: z.number().int(),
                at: z.string(),
                type: z.string(),
                label: z.string().describe("What happened, in words."),
                notification_id: z
                  .string()
                  .nullable()
                  .describe("The PSP notification that brought the event, when one did."),
                data: z.record(z.string(), z.unknown()),
                trace_id: z.string().nullable(),
              }),
            ),
            attempts: z.array(
              z.object({
                attempt: z.number().int(),
                psp: z.string(),
                request_id: z.string().describe("The idempotency key sent to the PSP."),
                status: z.string(),
                psp_reference: z.string().nullable(),
                code: z.string().nullable(),
                requested_at: z.string(),
                completed_at: z.string().nullable(),
              }),
            ),
            settlement_lines: z.array(z.record(z.string(), z.unknown())),
            exceptions: z.array(z.record(z.string(), z.unknown())),
            webhooks: z
              .array(
                z.object({
                  delivery_id: z.string(),
                  event_id: z.string(),
                  event_type: z.string(),
                  endpoint_id: z.string(),
                  origin: z.string(),
                  status: z.string(),
                  attempts: z.array(z.record(z.string(), z.unknown())),
                  created_at: z.string(),
                }),
              )
              .describe(
                "Merchant webhook deliveries: each attempt's time, HTTP status or error, latency, response excerpt.",
              ),
          }),
          ...errorResponses(OPERATOR_ERRORS, "payment_not_found"),
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const t = await db(() => p.timeline(id));
      if (!t) throw new ApiError("payment_not_found", `no payment ${id}`);
      return reply.send(t);
    },
  );

  const act = async (envelope: CommandEnvelope): Promise<CommandReply | null> => {
    try {
      return (await p.bus.send(envelope.command, envelope, {
        waitMs: p.replyWaitMs,
        msgId: `ops:${envelope.command.type}:${envelope.command.paymentId}:${Date.now().toString(36)}:${Math.random().toString(36).slice(2)}`,
      })) as CommandReply | null;
    } catch (cause) {
      throw new ApiError("service_unavailable", "the command could not be queued; retry", {}, { cause });
    }
  };
  const owner = async (id: string): Promise<string> => {
    const view = await db(() => p.view(id));
    if (!view) throw new ApiError("payment_not_found", `no payment ${id}`);
    return view.merchant_id;
  };
  const ActionAnswer = z.object({
    payment: PaymentResponse,
    result: z
      .enum(["settled", "pending"])
      .describe("pending: the PSP could not tell yet; the payment keeps asking."),
  });

  app.post(
    "/payments/:id/requery",
    {
      schema: {
        summary: "Ask the PSP again about what the payment has open, and apply the answer",
        tags,
        security,
        params: IdParams,
        body: z.strictObject({ reason: Reason }),
        response: {
          200: ActionAnswer,
          ...errorResponses(OPERATOR_ERRORS, BODY_ERRORS, "payment_not_found", "audit_unavailable"),
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const merchantId = await owner(id);
      const at = new Date().toISOString();
      const r = await audited(
        req,
        "payment.requery",
        { payment_id: id, reason: req.body.reason },
        "payment requeried",
        async () => {
          const r = await act({
            v: 1,
            command: {
              type: "ResumePayment",
              paymentId: id,
              merchantId,
              reason: `requery by ${req.operator}: ${req.body.reason}`.slice(0, 200),
              at,
            },
          });
          if (r?.kind === "rejected") throw fromRejection(r.rejection);
          return r;
        },
      );
      const payment = r?.payment ?? (await db(() => p.view(id)));
      if (!payment) throw new ApiError("payment_not_found", `no payment ${id}`);
      return reply.send({ payment, result: r?.kind === "settled" ? "settled" : "pending" });
    },
  );

  app.post(
    "/payments/:id/resolve",
    {
      schema: {
        summary: "Record an authorization outcome confirmed with the PSP",
        description:
          "Only while the payment has an authorization open (pending or unknown); otherwise 409. The event " +
          "names the operator and the reason. `authorized` and `captured` need the PSP's reference.",
        tags,
        security,
        params: IdParams,
        body: z.strictObject({
          outcome: z.enum(["authorized", "captured", "declined", "failed"]),
          reason: Reason,
          psp_reference: z.string().min(1).max(256).optional(),
        }),
        response: {
          200: ActionAnswer,
          ...errorResponses(
            OPERATOR_ERRORS,
            BODY_ERRORS,
            "payment_not_found",
            "invalid_state_transition",
            "audit_unavailable",
          ),
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const merchantId = await owner(id);
      const b = req.body;
      const r = await audited(
        req,
        "payment.resolve",
        { payment_id: id, outcome: b.outcome, reason: b.reason },
        "payment resolved by an operator",
        async () => {
          const r = await act({
            v: 1,
            command: {
              type: "ResolvePayment",
              paymentId: id,
              merchantId,
              outcome: b.outcome,
              ...(b.psp_reference !== undefined && { pspReference: b.psp_reference }),
              operator: req.operator,
              reason: b.reason,
              at: new Date().toISOString(),
            },
          });
          if (r?.kind === "rejected") throw fromRejection(r.rejection);
          return r;
        },
      );
      const payment = r?.payment ?? (await db(() => p.view(id)));
      if (!payment) throw new ApiError("payment_not_found", `no payment ${id}`);
      return reply.send({ payment, result: r?.kind === "settled" ? "settled" : "pending" });
    },
  );
  done();
};
