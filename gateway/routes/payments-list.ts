// GET /v1/payments: a merchant's own payments, newest first, from the payments read model (fresh
// within a second of an event), cursor-paginated with `starting_after` (a payment id of theirs).
// Never another merchant's: the merchant comes from the key, never from the query.
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { ID_PATTERN } from "../../actors/payment/core/contract.ts";
import { PaymentStatus } from "../../actors/payment/core/state.ts";
import { PAYMENTS_READ_MODEL } from "../../actors/projections/payments.ts";
import { cursorAfterPayment, searchPayments } from "../../actors/projections/search.ts";
import type { GatewayDeps } from "../deps.ts";
import { ApiError } from "../errors.ts";
import { readModelsReady } from "../read-models.ts";
import { errorResponses } from "./docs.ts";

const ListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(10),
  starting_after: z
    .string()
    .regex(ID_PATTERN)
    .optional()
    .describe("A payment id: the list continues after it."),
  // A status that is none of these is a mistake to say, not an empty list to answer.
  status: z.enum(Object.values(PaymentStatus)).optional(),
  created_from: z.iso.datetime().optional(),
  created_to: z.iso.datetime().optional(),
});

const Summary = z.object({
  id: z.string(),
  object: z.literal("payment"),
  status: z.string(),
  amount: z.number().int(),
  currency: z.string(),
  captured_amount: z.number().int(),
  refunded_amount: z.number().int(),
  psp: z.string().nullable(),
  reference: z.string().nullable(),
  last4: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});

export const paymentListRoutes: FastifyPluginCallbackZod<GatewayDeps> = (app, deps, done) => {
  const sql = deps.readModels;
  if (!sql) {
    done();
    return;
  }
  app.get(
    "/payments",
    {
      schema: {
        summary: "List your payments",
        description:
          "Newest first; `has_more` says whether to ask again with `starting_after` = the last id.",
        tags: ["payments"],
        security: [{ bearerAuth: [] }],
        querystring: ListQuery,
        response: {
          200: z.object({ object: z.literal("list"), data: z.array(Summary), has_more: z.boolean() }),
          ...errorResponses(
            "unauthorized",
            "validation_error",
            "service_unavailable",
            "read_model_rebuilding",
          ),
        },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const merchant = req.merchantId;
      try {
        await readModelsReady(sql, [PAYMENTS_READ_MODEL]);
        const cursor =
          q.starting_after !== undefined
            ? await cursorAfterPayment(sql, merchant, q.starting_after)
            : undefined;
        if (q.starting_after !== undefined && cursor === undefined)
          throw new ApiError("validation_error", `starting_after: no payment ${q.starting_after} of yours`, {
            issues: [
              {
                in: "querystring",
                path: "starting_after",
                code: "custom",
                message: "no such payment of yours",
              },
            ],
          });
        const r = await searchPayments(sql, {
          merchant,
          limit: q.limit,
          ...(cursor !== undefined && { cursor }),
          ...(q.status !== undefined && { status: q.status }),
          ...(q.created_from !== undefined && { createdFrom: q.created_from }),
          ...(q.created_to !== undefined && { createdTo: q.created_to }),
        });
        const data = r.payments.map(({ merchant_id: _m, ...p }) => ({ ...p, object: "payment" as const }));
        return reply.send({ object: "list" as const, data, has_more: r.nextCursor !== null });
      } catch (err) {
        if (err instanceof ApiError) throw err;
        throw new ApiError(
          "service_unavailable",
          "payments cannot be listed right now; retry later",
          {},
          { cause: err },
        );
      }
    },
  );
  done();
};
