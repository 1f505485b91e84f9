// Assembles the gateway's fastify instance: JSON-only parsing, zod validation and serialization,
// request context (trace, merchant), the one error handler, HTTP metrics, the OpenAPI document, and
// the route plugins (the operators' console page among them). It does not listen: the caller decides where.
import fastifySwagger from "@fastify/swagger";
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from "fastify-type-provider-zod";
import { refuseCardNumbersInFreeText } from "./card-in-text.ts";
import { cardTokenRoutes } from "./routes/card-tokens.ts";
import { authHook, decorateRequests, endRequestSpan, traceHook, logFor } from "./context.ts";
import type { GatewayDeps } from "./deps.ts";
import { ApiError, toApiError, type ErrorCode } from "./errors.ts";
import {
  acceptJsonObjectsOnly,
  DEFAULT_REQUEST_TIMEOUT_MS,
  edgeOptions,
  refuseUnstorableText,
  requestShapeHook,
} from "./http-edges.ts";
import { decorateOperator, operatorAuthHook } from "./operator-auth.ts";
import { consoleRoutes } from "./routes/console.ts";
import { contractRoutes } from "./routes/contract.ts";
import { documentTransform } from "./routes/docs.ts";
import { assertScoped } from "./scopes.ts";
import { opsPolicyRoutes } from "./routes/ops-policies.ts";
import { opsShadowRoutes } from "./routes/ops-shadow.ts";
import { opsDeadLetterRoutes } from "./routes/ops-dead-letters.ts";
import { opsAuditRoutes } from "./routes/ops-audit.ts";
import { paymentListRoutes } from "./routes/payments-list.ts";
import { opsLedgerRoutes } from "./routes/ops-ledger.ts";
import { opsReadModelRoutes } from "./routes/ops-read-models.ts";
import { opsPaymentRoutes } from "./routes/ops-payments.ts";
import { opsSettlementRoutes } from "./routes/ops-settlement.ts";
import { opsPspRoutes } from "./routes/ops-psps.ts";
import { opsMerchantRoutes } from "./routes/ops-merchants.ts";
import { paymentRoutes } from "./routes/payments.ts";
import { systemRoutes } from "./routes/system.ts";
import { webhookEventRoutes } from "./routes/webhook-events.ts";
import { webhookEndpointRoutes } from "./routes/webhook-endpoints.ts";
import { pspNotificationRoutes } from "./routes/psp-notifications.ts";
import { opsNotificationRoutes } from "./routes/ops-notifications.ts";
import { opsClusterRoutes } from "./routes/ops-cluster.ts";
import { stripeLayer } from "./stripe/plugin.ts";

export type { GatewayDeps } from "./deps.ts";

const DEFAULT_BODY_LIMIT = 64 * 1024;

/** Refusals counted in switchyard_inputs_refused_total{edge="http"}, by what was refused. */
const REFUSED_INPUTS: Partial<Record<ErrorCode, (e: ApiError) => string | undefined>> = {
  invalid_characters: (e) => firstIssueCode(e) ?? "invalid_characters",
  nesting_too_deep: () => "too_deep",
  duplicate_key: () => "duplicate_key",
  // Only a query that does not percent-decode: bytes that are not HTTP never reach a hook.
  malformed_request: (e) =>
    firstIssueCode(e) === "bad_percent_encoding" ? "bad_percent_encoding" : undefined,
  // Only the bytes that are not UTF-8: JSON that does not parse is a client's bug, not an input refused.
  invalid_json: (e) => (e.details.reason === "not_utf8" ? "not_utf8" : undefined),
  card_number_in_free_text: () => "card_number",
};

function firstIssueCode(e: ApiError): string | undefined {
  const issues = e.details.issues;
  const first: unknown = Array.isArray(issues) ? issues[0] : undefined;
  const code = typeof first === "object" && first !== null ? (first as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : undefined;
}

export async function buildGateway(deps: GatewayDeps): Promise<FastifyInstance> {
  // Typed as fastify's logger so the instance is a plain FastifyInstance; it is still this pino.
  const loggerInstance: FastifyBaseLogger = deps.log;
  const base = Fastify({
    loggerInstance,
    // One access line per request, written in onResponse with the request's fields; no pino child
    // per request (fastify's default) and no "incoming request" / "request completed" pair.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (logger) => logger,
    bodyLimit: deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT,
    ...edgeOptions(deps.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS),
  });
  const app = base.withTypeProvider<ZodTypeProvider>();
  endSilentConnectionsOnClose(base);

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  acceptJsonObjectsOnly(base);
  decorateRequests(base);
  decorateOperator(base);

  app.addHook("onRequest", traceHook);
  app.addHook("onRequest", requestShapeHook);
  app.addHook("preValidation", refuseUnstorableText);
  app.addHook("preValidation", refuseCardNumbersInFreeText);
  app.addHook("onResponse", async (req, reply) => {
    // The route pattern, never the raw URL: one series per route, whatever ids come in.
    const route = req.routeOptions.url ?? "unmatched";
    deps.metrics.httpDuration.observe(
      { method: req.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    logFor(req).info(
      { method: req.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 },
      "request",
    );
    endRequestSpan(req, reply.statusCode);
  });

  app.setErrorHandler(async (err, req, reply) => {
    const apiError = toApiError(err);
    const refused = REFUSED_INPUTS[apiError.code]?.(apiError);
    if (refused !== undefined) deps.metrics.inputsRefused.inc({ edge: "http", code: refused });
    if (apiError.status >= 500 && apiError.code !== "service_unavailable")
      // The error only: never the request body, which may hold a card.
      logFor(req).error({ err }, "request failed");
    else logFor(req).info({ code: apiError.code, status: apiError.status }, apiError.message);
    return reply.code(apiError.status).send(apiError.toBody());
  });
  app.setNotFoundHandler(async (req, reply) => {
    const e = new ApiError("not_found", `no route ${req.method} ${req.url.split("?")[0] ?? ""}`);
    return reply.code(e.status).send(e.toBody());
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "Switchyard",
        version: "1.0.0",
        description:
          "Payment orchestration. Amounts are integers in the currency's minor unit. Every POST " +
          'needs an Idempotency-Key. Errors are `{"error": {"code", "message", "details"}}`.',
      },
      components: {
        securitySchemes: {
          bearerAuth: {
            type: "http",
            scheme: "bearer",
            description:
              "The merchant's API key; a key without the route's scope gets 403 insufficient_scope",
          },
          operatorKey: {
            type: "http",
            scheme: "bearer",
            description:
              "An operator's key (SWITCHYARD_OPERATOR_KEYS, name:key[:role]); merchant keys get 403, " +
              "a role below the route's 403 insufficient_role",
          },
        },
      },
      tags: [
        { name: "payments", description: "The merchant payment API" },
        { name: "webhooks", description: "Your webhook endpoints, your events and their deliveries" },
        { name: "system", description: "Health and readiness" },
        { name: "operators", description: "Policies, shadow routing and PSP rotation, for operators" },
      ],
    },
    transform: jsonSchemaTransform,
    transformObject: documentTransform(jsonSchemaTransformObject),
  });

  await app.register(systemRoutes, deps);
  // The NATS contract (schemas, AsyncAPI): public like /openapi.json, read from the committed files.
  await app.register(contractRoutes, { log: deps.log });
  // The page is public and holds no data: each /ops call it makes carries the operator's key.
  await app.register(consoleRoutes);
  // PSP notifications: outside /v1, no merchant key (the PSP's signature is the authentication).
  await app.register(pspNotificationRoutes, deps);
  await app.register(
    async (v1) => {
      assertScoped(v1);
      v1.addHook("onRequest", authHook(deps.auth));
      await v1.register(paymentRoutes, deps);
      await v1.register(cardTokenRoutes, deps);
      await v1.register(paymentListRoutes, deps);
      await v1.register(webhookEventRoutes, deps);
      if (deps.webhookEndpoints) await v1.register(webhookEndpointRoutes, deps.webhookEndpoints);
    },
    { prefix: "/v1" },
  );
  // The Stripe-compatible API (docs/stripe.md): its own context under /v1, form bodies, Stripe errors.
  await app.register(stripeLayer(deps), { prefix: "/v1" });
  const ops = deps.ops;
  if (ops) {
    if (!ops.auth.enabled)
      deps.log.warn("operator API disabled: no operator keys configured (SWITCHYARD_OPERATOR_KEYS)");
    await app.register(
      async (scope) => {
        scope.decorateRequest("auditLog", null);
        const auditLog = ops.auditLog ?? null;
        scope.addHook("onRequest", (req, _reply, done) => {
          req.auditLog = auditLog;
          done();
        });
        scope.addHook("onRequest", operatorAuthHook(ops.auth, deps.auth));
        await scope.register(opsShadowRoutes, ops);
        await scope.register(opsPolicyRoutes, ops);
        await scope.register(opsPspRoutes, ops);
        await scope.register(opsDeadLetterRoutes, ops);
        await scope.register(opsSettlementRoutes, ops);
        await scope.register(opsLedgerRoutes, ops);
        await scope.register(opsReadModelRoutes, ops);
        await scope.register(opsAuditRoutes, ops);
        await scope.register(opsPaymentRoutes, ops);
        await scope.register(opsMerchantRoutes, ops);
        await scope.register(opsNotificationRoutes, ops);
        await scope.register(opsClusterRoutes, ops);
      },
      { prefix: "/ops" },
    );
  }
  return base;
}

/**
 * A client may open a connection and send nothing on it (connection pools do, ahead of need). Node
 * counts such a socket neither idle nor busy, so fastify's close() would wait for the headers
 * timeout (a minute) before a graceful shutdown ends. No request ever arrived on it: end it.
 */
function endSilentConnectionsOnClose(app: FastifyInstance): void {
  const silent = new Set<Socket>();
  app.server.on("connection", (socket: Socket) => {
    silent.add(socket);
    socket.once("close", () => silent.delete(socket));
  });
  app.server.on("request", (req: IncomingMessage) => silent.delete(req.socket));
  app.addHook("preClose", (done) => {
    for (const socket of silent) socket.destroy();
    done();
  });
}
