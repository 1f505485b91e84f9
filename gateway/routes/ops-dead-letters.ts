// The operator routes of dead letters under /ops/dead-letters: the commands that could not be
// handled (undecodable, a bug, a corrupt history, retries exhausted), with why; and redrive, which
// puts one back on its original subject once its cause is fixed. Every redrive is audited.
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  DeadLetterNotFoundError,
  DeadLetterRedactedError,
  type StoredDeadLetter,
} from "../../streams/dead-letters.ts";
import { DEAD_LETTER_REASONS } from "../../actors/fate.ts";
import { emptyBodyAsObject } from "../context.ts";
import type { OpsDeps } from "../deps.ts";
import { ApiError } from "../errors.ts";
import { BODY_ERRORS, errorResponses, OPERATOR_ERRORS, OPTIONAL_BODY } from "./docs.ts";
import { audited, OPS_SECURITY as security, OPS_TAGS as tags } from "./ops-common.ts";

const DeadLetterBody = z.object({
  id: z.number().int().describe("Its sequence in the dead-letter stream: the handle for a redrive."),
  subject: z.string().describe("Where the command was published, and where a redrive puts it back."),
  reason: z
    .string()
    .describe(`Why it could not be handled: ${DEAD_LETTER_REASONS.join(", ")} (docs/failures.md).`),
  error: z.string(),
  delivery_count: z.number().int(),
  stream_seq: z.number().int().describe("The command's sequence in the command stream."),
  dead_lettered_at: z.string(),
  /** The command's envelope when it is JSON (a sealed card stays sealed); null when it is not. */
  command: z.unknown().nullable(),
});

const ListQuery = z.strictObject({
  after: z.coerce.number().int().nonnegative().optional().describe("List after this id (paging)."),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
const IdParams = z.object({ id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) });
const RedriveBody = z.strictObject({ reason: z.string().min(1).max(500).optional() });

export const opsDeadLetterRoutes: FastifyPluginCallbackZod<OpsDeps> = (app, ops, done) => {
  const dlq = ops.deadLetters;
  if (!dlq) {
    done();
    return;
  }
  app.get(
    "/dead-letters",
    {
      schema: {
        summary: "Commands that could not be handled",
        description:
          "Oldest first. A command lands here when it can never succeed as it is, or ran out of retries.",
        tags,
        security,
        querystring: ListQuery,
        response: {
          200: z.object({ dead_letters: z.array(DeadLetterBody), total: z.number().int() }),
          ...errorResponses(OPERATOR_ERRORS, "validation_error"),
        },
      },
    },
    async (req, reply) => {
      const [list, total] = await dlqCall(() =>
        Promise.all([
          dlq.list({
            limit: req.query.limit,
            ...(req.query.after !== undefined && { after: req.query.after }),
          }),
          dlq.count(),
        ]),
      );
      return reply.send({ dead_letters: list.map(body), total });
    },
  );

  app.post(
    "/dead-letters/:id/redrive",
    {
      preValidation: emptyBodyAsObject,
      schema: {
        summary: "Put a dead-lettered command back on its subject",
        description:
          "The command is handled again as it was sent (payments are idempotent, so a command that did " +
          "in fact take effect answers its first result). The record leaves the dead-letter stream.",
        tags,
        security,
        params: IdParams,
        body: RedriveBody,
        [OPTIONAL_BODY]: true,
        response: {
          200: z.object({ id: z.number().int(), subject: z.string(), redriven_seq: z.number().int() }),
          ...errorResponses(
            OPERATOR_ERRORS,
            BODY_ERRORS,
            "dead_letter_not_found",
            "invalid_state_transition",
            "audit_unavailable",
          ),
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const d = await dlqCall(() => dlq.get(id));
      const r = await audited(
        req,
        "dead_letter.redrive",
        { id, subject: d.subject, reason: req.body.reason ?? null },
        "dead letter redriven",
        () => dlqCall(() => dlq.redrive(id)),
      );
      return reply.send({ id, subject: r.subject, redriven_seq: r.seq });
    },
  );
  done();
};

async function dlqCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof DeadLetterNotFoundError) throw new ApiError("dead_letter_not_found", err.message);
    // A masked copy of a command that held a card number: there is no command left to put back.
    if (err instanceof DeadLetterRedactedError) throw new ApiError("invalid_state_transition", err.message);
    throw new ApiError(
      "service_unavailable",
      "the dead-letter stream cannot be reached; retry later",
      {},
      { cause: err },
    );
  }
}

function body(d: StoredDeadLetter) {
  let command: unknown = null;
  try {
    command = JSON.parse(Buffer.from(d.data, "base64").toString("utf8"));
  } catch {
    command = null;
  }
  return {
    id: d.id,
    subject: d.subject,
    reason: d.reason,
    error: d.error,
    delivery_count: d.deliveryCount,
    stream_seq: d.streamSeq,
    dead_lettered_at: d.at,
    command,
  };
}
