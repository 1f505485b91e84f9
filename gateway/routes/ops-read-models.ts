// The operator routes of the read models' followers under /ops/read-models: each read model's state
// (its position, a rebuild under way, a follower failing) and the frames the followers set aside —
// the read models', the webhook dispatcher's — with why.
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { READ_MODELS } from "../../actors/readmodels.ts";
import { WEBHOOKS_FOLLOWER } from "../../actors/webhooks/dispatcher.ts";
import { listSetAside, readModelStates, ReadModelStatus } from "../../streams/db/set-aside.ts";
import type { OpsDeps } from "../deps.ts";
import { stateBody } from "../read-models.ts";
import { errorResponses, OPERATOR_ERRORS } from "./docs.ts";
import { OPS_SECURITY as security, OPS_TAGS as tags } from "./ops-common.ts";
import { call } from "./ops-settlement.ts";

const FOLLOWERS = [...READ_MODELS, WEBHOOKS_FOLLOWER] as const;

const ReadModelBody = z.object({
  name: z.string(),
  status: z
    .enum([ReadModelStatus.ready, ReadModelStatus.rebuilding, ReadModelStatus.failing])
    .describe(
      "rebuilding: below the stream's sequence its rebuild must reach; failing: its last batch failed " +
        "(the database refusing for another reason than one frame's data) and it retries; else ready.",
    ),
  position: z.number().int().describe("The last stream sequence applied (or set aside)."),
  rebuild_to: z.number().int().nullable(),
  failing_since: z.string().nullable(),
  last_error: z.string().nullable(),
  set_aside: z.number().int().describe("Frames this read model set aside (GET /ops/read-models/set-aside)."),
});

const SetAsideBody = z.object({
  follower: z.string().describe(`${FOLLOWERS.join(", ")}`),
  stream: z.string(),
  seq: z.number().int().describe("The frame's sequence in its stream: read it there."),
  subject: z.string(),
  appended_at: z.string(),
  code: z
    .string()
    .describe(
      "PostgreSQL's SQLSTATE (22021 a NUL, 22P02 / 22P05 a lone surrogate, 54000…), undecodable or unreadable.",
    ),
  reason: z.string(),
  set_aside_at: z.string(),
});

export const opsReadModelRoutes: FastifyPluginCallbackZod<OpsDeps> = (app, ops, done) => {
  const s = ops.settlement;
  if (!s) {
    done();
    return;
  }
  app.get(
    "/read-models",
    {
      schema: {
        summary: "The read models' state",
        description:
          "Each read model's position, whether a rebuild is under way or its follower is failing, and how " +
          "many frames it set aside. Lag from the stream's head is the metric switchyard_read_model_lag_seconds.",
        tags,
        security,
        response: {
          200: z.object({ read_models: z.array(ReadModelBody) }),
          ...errorResponses(OPERATOR_ERRORS),
        },
      },
    },
    async (_req, reply) => {
      const states = await call(s, () => readModelStates(s.sql, READ_MODELS));
      return reply.send({ read_models: states.map(stateBody) });
    },
  );

  app.get(
    "/read-models/set-aside",
    {
      schema: {
        summary: "Frames the followers set aside",
        description:
          "Stream frames a follower (a read model, the webhook dispatcher) could not apply and went on " +
          "without, newest first: where each is in its stream and what the database answered. The frames " +
          "stay in their streams; a read-model rebuild replays them and sets aside again what still fails " +
          "(docs/runbooks/SwitchyardFollowerFramesSetAside.md).",
        tags,
        security,
        querystring: z.strictObject({
          follower: z.enum(FOLLOWERS).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(100),
        }),
        response: {
          200: z.object({ set_aside: z.array(SetAsideBody) }),
          ...errorResponses(OPERATOR_ERRORS, "validation_error"),
        },
      },
    },
    async (req, reply) => {
      const { follower, limit } = req.query;
      const rows = await call(s, () =>
        listSetAside(s.sql, { limit, ...(follower !== undefined && { follower }) }),
      );
      return reply.send({
        set_aside: rows.map((r) => ({
          ...r,
          appended_at: r.appended_at.toISOString(),
          set_aside_at: r.set_aside_at.toISOString(),
        })),
      });
    },
  );
  done();
};
