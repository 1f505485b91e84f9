// The merchant's events and webhook deliveries (issue 10): GET /v1/events/{id}, GET /v1/events (oldest
// first after a cursor, for merchants that poll), an endpoint's deliveries with every attempt, and
// sending again — one event (redeliver) or everything since a time to one endpoint (replay). The
// merchant comes from the key: another merchant's event or endpoint is not found (404).
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { ID_PATTERN } from "../../actors/payment/core/contract.ts";
import { EVENT_TYPES } from "../../actors/webhooks/core/event-types.ts";
import {
  cursorOf,
  endpointOf,
  eventOf,
  listDeliveries,
  listEvents,
  redeliver,
  replay,
} from "../../actors/webhooks/queries.ts";
import type { GatewayDeps } from "../deps.ts";
import { emptyBodyAsObject, idempotencyKeyHook } from "../context.ts";
import { IdempotencyHeaders } from "../schemas.ts";
import { ApiError, storeCall } from "../errors.ts";
import { BODY_ERRORS, OPTIONAL_BODY, errorResponses } from "./docs.ts";

const tags = ["webhooks"];
const security = [{ bearerAuth: [] }];

const EventObject = z
  .object({
    id: z.string(),
    object: z.literal("event"),
    type: z.enum(EVENT_TYPES),
    created: z.string(),
    // The payment as it was right after the event: as stored then, so not held to today's schema.
    data: z.object({ object: z.record(z.string(), z.unknown()) }),
  })
  .meta({ id: "Event" });

const Attempt = z.object({
  at: z.string(),
  status: z.number().int().nullable().describe("The endpoint's HTTP status; null when none came back."),
  error: z.string().nullable().describe("timeout, a connection error code, or refused: <why>"),
  latency_ms: z.number().int(),
  response: z.string().nullable().describe("The first KiB of the endpoint's answer."),
});

const Delivery = z
  .object({
    id: z.string(),
    object: z.literal("webhook_delivery"),
    event_id: z.string(),
    event_type: z.string(),
    endpoint_id: z.string(),
    payment_id: z.string(),
    origin: z.enum(["stream", "redeliver", "replay"]),
    status: z.enum(["pending", "succeeded", "dead"]),
    attempts: z.array(Attempt),
    next_attempt_at: z.string().nullable(),
    created_at: z.string(),
  })
  .meta({ id: "WebhookDelivery" });

const EventId = z.string().regex(ID_PATTERN);
const EventParams = z.object({ id: EventId });
const EndpointParams = z.object({ id: z.string().regex(ID_PATTERN) });

const ListEventsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  after: EventId.optional().describe("An event id of yours: the list continues after it."),
  type: z.enum(EVENT_TYPES).optional(),
});

const ListDeliveriesQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  starting_after: z
    .string()
    .regex(ID_PATTERN)
    .optional()
    .describe("A delivery id: the list continues after it."),
  status: z.enum(["pending", "succeeded", "dead"]).optional(),
});

const RedeliverQuery = z.strictObject({ endpoint: z.string().regex(ID_PATTERN).optional() });
const ReplayQuery = z.strictObject({ since: z.iso.datetime({ offset: true }) });

const eventNotFound = () => new ApiError("event_not_found", "no such event");
const endpointNotFound = () => new ApiError("webhook_endpoint_not_found", "no such webhook endpoint");

/** A database failure is a 503 (retry later), never a 500 that says nothing. */
function orUnavailable<T>(what: string, fn: () => Promise<T>): Promise<T> {
  return storeCall(fn, { unavailable: `${what} cannot be answered right now; retry later` });
}

export const webhookEventRoutes: FastifyPluginCallbackZod<GatewayDeps> = (app, deps, done) => {
  const sql = deps.readModels;
  if (!sql) {
    done();
    return;
  }

  app.get(
    "/events/:id",
    {
      schema: {
        summary: "Get an event",
        tags,
        security,
        params: EventParams,
        response: {
          200: EventObject,
          ...errorResponses("unauthorized", "insufficient_scope", "event_not_found", "service_unavailable"),
        },
      },
    },
    async (req, reply) => {
      const event = await orUnavailable("the event", () => eventOf(sql, req.merchantId, req.params.id));
      if (!event) throw eventNotFound();
      return reply.send(event);
    },
  );

  app.get(
    "/events",
    {
      schema: {
        summary: "List your events",
        description:
          "Oldest first, in the order they happened. Poll with `after` = `next_cursor` of the last answer " +
          "(it stays the last event you saw when nothing new came); `has_more` says a full page is waiting.",
        tags,
        security,
        querystring: ListEventsQuery,
        response: {
          200: z.object({
            object: z.literal("list"),
            data: z.array(EventObject),
            has_more: z.boolean(),
            next_cursor: z.string().nullable(),
          }),
          ...errorResponses(
            BODY_ERRORS,
            "unauthorized",
            "insufficient_scope",
            "invalid_cursor",
            "service_unavailable",
          ),
        },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const r = await orUnavailable("events", async () => {
        const after = q.after !== undefined ? await cursorOf(sql, req.merchantId, q.after) : undefined;
        if (q.after !== undefined && after === undefined)
          throw new ApiError("invalid_cursor", `after: no event ${q.after} of yours`, {
            issues: [{ in: "querystring", path: "after", code: "custom", message: "no such event of yours" }],
          });
        return listEvents(sql, {
          merchantId: req.merchantId,
          limit: q.limit,
          ...(after && { after }),
          ...(q.type !== undefined && { type: q.type }),
        });
      });
      return reply.send({
        object: "list" as const,
        data: r.events,
        has_more: r.hasMore,
        next_cursor: r.events.at(-1)?.id ?? q.after ?? null,
      });
    },
  );

  app.get(
    "/webhook_endpoints/:id/deliveries",
    {
      schema: {
        summary: "List an endpoint's deliveries",
        description:
          "Newest first, each with every attempt: time, HTTP status or error, latency, response excerpt.",
        tags,
        security,
        params: EndpointParams,
        querystring: ListDeliveriesQuery,
        response: {
          200: z.object({ object: z.literal("list"), data: z.array(Delivery), has_more: z.boolean() }),
          ...errorResponses(
            BODY_ERRORS,
            "unauthorized",
            "insufficient_scope",
            "webhook_endpoint_not_found",
            "invalid_cursor",
            "service_unavailable",
          ),
        },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const r = await orUnavailable("deliveries", async () => {
        const endpoint = await endpointOf(sql, req.merchantId, req.params.id);
        if (!endpoint) throw endpointNotFound();
        const list = await listDeliveries(sql, {
          endpointId: endpoint.id,
          limit: q.limit,
          ...(q.starting_after !== undefined && { startingAfter: q.starting_after }),
          ...(q.status !== undefined && { status: q.status }),
        });
        if (!list)
          throw new ApiError(
            "invalid_cursor",
            `starting_after: no delivery ${q.starting_after ?? ""} of this endpoint`,
          );
        return list;
      });
      return reply.send({ object: "list" as const, data: r.deliveries, has_more: r.hasMore });
    },
  );

  app.post(
    "/events/:id/redeliver",
    {
      onRequest: idempotencyKeyHook,
      preValidation: emptyBodyAsObject,
      schema: {
        summary: "Send an event again",
        description:
          "A new delivery to each of your enabled endpoints that take the event's type, or to `endpoint` only. " +
          "It carries the event's own webhook-id, so a receiver that deduplicates sees a repeat. The same " +
          "Idempotency-Key again queues nothing more and answers the same deliveries.",
        tags,
        security,
        headers: IdempotencyHeaders,
        params: EventParams,
        querystring: RedeliverQuery,
        body: z.strictObject({}),
        [OPTIONAL_BODY]: true,
        response: {
          202: z.object({
            object: z.literal("list"),
            data: z.array(z.object({ id: z.string(), endpoint_id: z.string() })),
          }),
          ...errorResponses(
            BODY_ERRORS,
            "unauthorized",
            "insufficient_scope",
            "idempotency_key_missing",
            "event_not_found",
            "webhook_endpoint_not_found",
            "no_matching_endpoint",
            "service_unavailable",
          ),
        },
      },
    },
    async (req, reply) => {
      const { endpoint } = req.query;
      const merchantId = req.merchantId;
      const queued = await orUnavailable("the redelivery", async () => {
        if (!(await cursorOf(sql, merchantId, req.params.id))) throw eventNotFound();
        if (endpoint !== undefined && !(await endpointOf(sql, merchantId, endpoint)))
          throw endpointNotFound();
        return redeliver(sql, {
          merchantId,
          eventId: req.params.id,
          idempotencyKey: req.idempotencyKey,
          now: new Date(),
          ...(endpoint !== undefined && { endpointId: endpoint }),
        });
      });
      if (queued.length === 0)
        throw new ApiError("no_matching_endpoint", "none of your enabled endpoints takes this event");
      return reply.code(202).send({ object: "list" as const, data: queued });
    },
  );

  app.post(
    "/webhook_endpoints/:id/replay",
    {
      onRequest: idempotencyKeyHook,
      preValidation: emptyBodyAsObject,
      schema: {
        summary: "Send an endpoint every event since a time again",
        description:
          "Queues a new delivery to this endpoint of each of your events created at or after `since` " +
          "(ISO 8601) that it takes, in their order (at most 100 000). The same Idempotency-Key again " +
          "queues nothing more.",
        tags,
        security,
        headers: IdempotencyHeaders,
        params: EndpointParams,
        querystring: ReplayQuery,
        body: z.strictObject({}),
        [OPTIONAL_BODY]: true,
        response: {
          202: z.object({ object: z.literal("replay"), endpoint_id: z.string(), queued: z.number().int() }),
          ...errorResponses(
            BODY_ERRORS,
            "unauthorized",
            "insufficient_scope",
            "idempotency_key_missing",
            "webhook_endpoint_not_found",
            "service_unavailable",
          ),
        },
      },
    },
    async (req, reply) => {
      const merchantId = req.merchantId;
      const queued = await orUnavailable("the replay", async () => {
        const endpoint = await endpointOf(sql, merchantId, req.params.id);
        if (!endpoint) throw endpointNotFound();
        return replay(sql, {
          merchantId,
          endpoint,
          since: new Date(req.query.since),
          idempotencyKey: req.idempotencyKey,
          now: new Date(),
        });
      });
      return reply.code(202).send({ object: "replay" as const, endpoint_id: req.params.id, queued });
    },
  );
  done();
};
