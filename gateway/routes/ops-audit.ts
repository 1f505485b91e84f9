// GET /ops/audit: the operators' actions, from the append-only AUDIT stream (through its read model),
// filtered by operator, action (a prefix like `policy` takes every policy.* action) and time.
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { OpsDeps } from "../deps.ts";
import { ApiError } from "../errors.ts";
import { errorResponses, OPERATOR_ERRORS } from "./docs.ts";
import { OPS_SECURITY as security, OPS_TAGS as tags } from "./ops-common.ts";

const AuditQuery = z.strictObject({
  actor: z.string().max(64).optional().describe("The operator's name."),
  action: z.string().max(64).optional().describe("An action (policy.activate) or its prefix (policy)."),
  from: z.iso.datetime().optional().describe("Inclusive."),
  to: z.iso.datetime().optional().describe("Exclusive."),
  after: z.coerce
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe("Cursor: the last seq of the previous page."),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

const AuditEntry = z.object({
  seq: z.number().int().describe("Its sequence in the AUDIT stream."),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  message: z.string(),
  fields: z.record(z.string(), z.unknown()),
});

export const opsAuditRoutes: FastifyPluginCallbackZod<OpsDeps> = (app, ops, done) => {
  const log = ops.auditLog;
  if (!log) {
    done();
    return;
  }
  app.get(
    "/audit",
    {
      schema: {
        summary: "Every operator action",
        description: "Oldest first; page with `after`.",
        tags,
        security,
        querystring: AuditQuery,
        response: {
          200: z.object({ entries: z.array(AuditEntry), next_after: z.number().int().nullable() }),
          ...errorResponses(OPERATOR_ERRORS, "validation_error"),
        },
      },
    },
    async (req, reply) => {
      const q = req.query;
      let rows;
      try {
        rows = await log.list({
          limit: q.limit,
          ...(q.actor !== undefined && { actor: q.actor }),
          ...(q.action !== undefined && { action: q.action }),
          ...(q.from !== undefined && { from: q.from }),
          ...(q.to !== undefined && { to: q.to }),
          ...(q.after !== undefined && { after: q.after }),
        });
      } catch (err) {
        throw new ApiError(
          "service_unavailable",
          "the audit trail cannot be read right now; retry later",
          {},
          { cause: err },
        );
      }
      const entries = rows.map(({ v: _v, ...r }) => r);
      return reply.send({ entries, next_after: rows.length === q.limit ? (rows.at(-1)?.seq ?? null) : null });
    },
  );
  done();
};
