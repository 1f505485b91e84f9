// GET /ops/notifications?unmatched=true: the PSP notifications no payment could take (an unknown
// payment, or a refund or dispute the payment does not know), kept in JetStream for reconciliation
// by the door (routes/psp-notifications.ts). Oldest first, paged by sequence.
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { OpsDeps } from "../deps.ts";
import { ApiError } from "../errors.ts";
import { errorResponses, OPERATOR_ERRORS } from "./docs.ts";
import { OPS_SECURITY as security, OPS_TAGS as tags } from "./ops-common.ts";

const Query = z.strictObject({
  unmatched: z
    .enum(["true"])
    .describe("Only the unmatched ones: the only ones kept today, so required for now."),
  after: z.coerce.number().int().nonnegative().optional().describe("List after this sequence (paging)."),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

const Kept = z.object({
  seq: z.number().int().describe("Its sequence in the notification stream (paging)."),
  psp: z.string(),
  id: z.string().describe("The PSP's notification id."),
  payment_reference: z.string().describe("The payment it names (our payment id as the PSP has it)."),
  kind: z.string(),
  reason: z.string(),
  notification: z.record(z.string(), z.unknown()).describe("The verified, normalized notification."),
  received_at: z.string(),
});

export const opsNotificationRoutes: FastifyPluginCallbackZod<OpsDeps> = (app, ops, done) => {
  const kept = ops.notifications;
  if (!kept) {
    done();
    return;
  }
  app.get(
    "/notifications",
    {
      schema: {
        summary: "PSP notifications kept for reconciliation",
        description:
          "Verified notifications from a PSP that no payment could take, oldest first. The PSP was " +
          "acknowledged (it will not send them again): they wait here for an operator.",
        tags,
        security,
        querystring: Query,
        response: {
          200: z.object({ notifications: z.array(Kept) }),
          ...errorResponses(OPERATOR_ERRORS, "validation_error", "service_unavailable"),
        },
      },
    },
    async (req, reply) => {
      const list = await kept
        .list({ limit: req.query.limit, ...(req.query.after !== undefined && { after: req.query.after }) })
        .catch((cause: unknown) => {
          throw new ApiError("service_unavailable", "notifications cannot be read right now", {}, { cause });
        });
      return reply.send({
        notifications: list.map((r) => ({
          seq: r.seq,
          psp: r.psp,
          id: r.id,
          payment_reference: r.paymentReference,
          kind: r.kind,
          reason: r.reason,
          notification: r.notification,
          received_at: r.receivedAt,
        })),
      });
    },
  );
  done();
};
