// The merchant's webhook endpoints under /v1 (scope webhooks:manage): register where events go,
// list, change, delete, and rotate the signing secret. The secret is answered in clear only by the
// request that issues it (create, rotate_secret) and never logged; another merchant's endpoint is
// answered exactly like an unknown one. Each change is logged and kept in the audit trail with
// the merchant as actor, and the URL's origin only (its path or query may carry a token).
import type { FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { checkWebhookUrl, type UrlPolicy } from "../../actors/webhooks/core/url-policy.ts";
import type { AuditLog } from "../../streams/audit-log.ts";
import { WebhookEndpointStoreError, type WebhookEndpointRow } from "../../streams/webhook-endpoints.ts";
import type { WebhookEndpointStore } from "../../actors/webhooks/endpoints.ts";
import { bindLog, idempotencyKeyHook, logFor } from "../context.ts";
import { ApiError, storeCall } from "../errors.ts";
import { IdempotencyHeaders } from "../schemas.ts";
import {
  CreateWebhookEndpointBody,
  DeletedWebhookEndpoint,
  endpointView,
  UpdateWebhookEndpointBody,
  WebhookEndpointIdParams,
  WebhookEndpointList,
  WebhookEndpointResponse,
  WebhookEndpointWithSecretResponse,
} from "../webhook-schemas.ts";
import { BODY_ERRORS, errorResponses } from "./docs.ts";

export type WebhookEndpointsDeps = {
  store: Pick<WebhookEndpointStore, "create" | "get" | "list" | "update" | "delete" | "rotate">;
  urlPolicy: UrlPolicy;
  /** The AUDIT stream; without it changes are only logged. */
  auditLog?: Pick<AuditLog, "append">;
  now?: () => Date;
};

const AUTH_ERRORS = ["unauthorized", "insufficient_scope", "service_unavailable"] as const;

export const webhookEndpointRoutes: FastifyPluginCallbackZod<WebhookEndpointsDeps> = (app, deps, done) => {
  const now = deps.now ?? (() => new Date());
  const security = [{ bearerAuth: [] }];
  const tags = ["webhooks"];

  /** The store's refusals keep their code; anything else from PostgreSQL is a 503 to retry. */
  function stored<T>(req: FastifyRequest, work: () => Promise<T>): Promise<T> {
    return storeCall(work, {
      unavailable: "webhook endpoints cannot be read or changed right now; retry later",
      refusal: (err) => (err instanceof WebhookEndpointStoreError ? err : undefined),
      log: (err) => logFor(req).error({ err }, "webhook endpoint store failed"),
    });
  }

  function allowedUrl(raw: string): string {
    const verdict = checkWebhookUrl(raw, deps.urlPolicy);
    if (!verdict.ok) throw new ApiError("invalid_webhook_url", verdict.message, { reason: verdict.reason });
    return verdict.url.href;
  }

  async function audit(
    req: FastifyRequest,
    action: string,
    row: WebhookEndpointRow,
    message: string,
    extra: Record<string, unknown> = {},
  ): Promise<void> {
    const fields = {
      merchant_id: req.merchantId,
      ...(req.keyId !== null && { key_id: req.keyId }),
      endpoint_id: row.id,
      url_origin: new URL(row.url).origin,
      ...extra,
    };
    logFor(req).info({ audit: action, ...fields }, message);
    if (!deps.auditLog) return;
    try {
      await deps.auditLog.append({
        v: 1,
        at: now().toISOString(),
        actor: `merchant:${req.merchantId}`,
        action,
        message,
        fields,
      });
    } catch (err) {
      // The change is made: a lost audit record is an error to see, not a failure to answer.
      logFor(req).error({ err, audit: action }, "audit record not stored");
    }
  }

  const notFound = () => new ApiError("webhook_endpoint_not_found", "no such webhook endpoint");
  const bind = (req: FastifyRequest, reply: FastifyReply, id: string) =>
    bindLog(req, reply, { webhookEndpointId: id });

  app.post(
    "/webhook_endpoints",
    {
      onRequest: idempotencyKeyHook,
      schema: {
        summary: "Create a webhook endpoint",
        description:
          "Registers a URL to receive events, signed per the Standard Webhooks specification. The " +
          "answer holds the signing secret (`whsec_…`): the only time it is shown (repeating the " +
          "request with the same Idempotency-Key answers it again, unless rotated since). At most " +
          "16 endpoints per merchant.",
        tags,
        security,
        headers: IdempotencyHeaders,
        body: CreateWebhookEndpointBody,
        response: {
          201: WebhookEndpointWithSecretResponse.describe("The endpoint and its secret."),
          200: WebhookEndpointResponse.describe("A repeat after the secret was rotated: no secret."),
          ...errorResponses(
            BODY_ERRORS,
            AUTH_ERRORS,
            "idempotency_key_missing",
            "idempotency_key_reused",
            "invalid_webhook_url",
            "webhook_endpoint_limit_reached",
          ),
        },
      },
    },
    async (req, reply) => {
      const input = {
        url: allowedUrl(req.body.url),
        enabledEvents: req.body.enabled_events,
        description: req.body.description ?? null,
        ...(req.body.format !== undefined && { format: req.body.format }),
      };
      const issued = await stored(req, () => deps.store.create(req.merchantId, input, req.idempotencyKey));
      bind(req, reply, issued.row.id);
      if (!issued.replayed)
        await audit(req, "webhook_endpoint.create", issued.row, "webhook endpoint created", {
          enabled_events: issued.row.enabled_events,
        });
      const view = endpointView(issued.row, now());
      if (issued.secret === null) return reply.code(200).send(view);
      return reply.code(201).send({ ...view, secret: issued.secret });
    },
  );

  app.get(
    "/webhook_endpoints",
    {
      schema: {
        summary: "List webhook endpoints",
        description: "The merchant's endpoints, oldest first (all of them: at most 16).",
        tags,
        security,
        response: { 200: WebhookEndpointList, ...errorResponses(AUTH_ERRORS) },
      },
    },
    async (req, reply) => {
      const rows = await stored(req, () => deps.store.list(req.merchantId));
      const at = now();
      return reply.send({
        object: "list" as const,
        data: rows.map((r) => endpointView(r, at)),
        has_more: false as const,
      });
    },
  );

  app.get(
    "/webhook_endpoints/:id",
    {
      schema: {
        summary: "Retrieve a webhook endpoint",
        description: "Never shows the secret.",
        tags,
        security,
        params: WebhookEndpointIdParams,
        response: {
          200: WebhookEndpointResponse,
          ...errorResponses(AUTH_ERRORS, "validation_error", "webhook_endpoint_not_found"),
        },
      },
    },
    async (req, reply) => {
      bind(req, reply, req.params.id);
      const row = await stored(req, () => deps.store.get(req.merchantId, req.params.id));
      if (!row) throw notFound();
      return reply.send(endpointView(row, now()));
    },
  );

  app.patch(
    "/webhook_endpoints/:id",
    {
      schema: {
        summary: "Update a webhook endpoint",
        description:
          "Changes the URL, the event types, the description, or disables / re-enables it. " +
          "Re-enabling clears `disabled_reason` and `failing_since`.",
        tags,
        security,
        params: WebhookEndpointIdParams,
        body: UpdateWebhookEndpointBody,
        response: {
          200: WebhookEndpointResponse,
          ...errorResponses(BODY_ERRORS, AUTH_ERRORS, "invalid_webhook_url", "webhook_endpoint_not_found"),
        },
      },
    },
    async (req, reply) => {
      bind(req, reply, req.params.id);
      const b = req.body;
      const patch = {
        ...(b.url !== undefined && { url: allowedUrl(b.url) }),
        ...(b.enabled_events !== undefined && { enabledEvents: b.enabled_events }),
        ...(b.description !== undefined && { description: b.description }),
        ...(b.disabled !== undefined && { disabled: b.disabled }),
        ...(b.format !== undefined && { format: b.format }),
      };
      const row = await stored(req, () => deps.store.update(req.merchantId, req.params.id, patch));
      if (!row) throw notFound();
      await audit(req, "webhook_endpoint.update", row, "webhook endpoint updated", {
        changed: Object.keys(b).sort(),
        ...(b.enabled_events !== undefined && { enabled_events: row.enabled_events }),
        ...(b.disabled !== undefined && { disabled: row.disabled }),
      });
      return reply.send(endpointView(row, now()));
    },
  );

  app.delete(
    "/webhook_endpoints/:id",
    {
      schema: {
        summary: "Delete a webhook endpoint",
        description: "No more deliveries to it; its secrets are gone with it.",
        tags,
        security,
        params: WebhookEndpointIdParams,
        response: {
          200: DeletedWebhookEndpoint,
          ...errorResponses(AUTH_ERRORS, "validation_error", "webhook_endpoint_not_found"),
        },
      },
    },
    async (req, reply) => {
      bind(req, reply, req.params.id);
      const row = await stored(req, () => deps.store.get(req.merchantId, req.params.id));
      if (!row || !(await stored(req, () => deps.store.delete(req.merchantId, req.params.id))))
        throw notFound();
      await audit(req, "webhook_endpoint.delete", row, "webhook endpoint deleted");
      return reply.send({ id: row.id, object: "webhook_endpoint" as const, deleted: true as const });
    },
  );

  app.post(
    "/webhook_endpoints/:id/rotate_secret",
    {
      onRequest: idempotencyKeyHook,
      schema: {
        summary: "Rotate a webhook endpoint's signing secret",
        description:
          "Issues a new secret, answered once. The previous one keeps signing deliveries (both " +
          "signatures are sent) until `previous_secret_expires_at`; a second rotation before then " +
          "ends the older one at once. The same Idempotency-Key again answers the same secret.",
        tags,
        security,
        headers: IdempotencyHeaders,
        params: WebhookEndpointIdParams,
        response: {
          200: WebhookEndpointWithSecretResponse.describe("The endpoint and its new secret."),
          ...errorResponses(
            AUTH_ERRORS,
            "validation_error",
            "idempotency_key_missing",
            "webhook_endpoint_not_found",
          ),
        },
      },
    },
    async (req, reply) => {
      bind(req, reply, req.params.id);
      const issued = await stored(req, () =>
        deps.store.rotate(req.merchantId, req.params.id, req.idempotencyKey),
      );
      if (!issued?.secret) throw notFound();
      const view = endpointView(issued.row, now());
      if (!issued.replayed)
        await audit(req, "webhook_endpoint.rotate_secret", issued.row, "webhook secret rotated", {
          previous_secret_expires_at: view.previous_secret_expires_at,
        });
      return reply.send({ ...view, secret: issued.secret });
    },
  );

  done();
};
