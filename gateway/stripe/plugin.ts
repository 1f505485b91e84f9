// The Stripe-compatible layer: its own encapsulated fastify context under /v1, beside the native API,
// so that what is Stripe's stays here — the form-urlencoded parser (the native API stays JSON only),
// Stripe-shaped errors from its own error handler, the `Bearer sk_…` check answering as Stripe does,
// `Stripe-Version` accepted and echoed, `Request-Id` on every answer, and Stripe's "Unrecognized
// request URL" for any /v1 URL no route takes. The routes are intents.ts and refunds.ts; the
// payments they make are Switchyard payments like any other (engine.ts). docs/stripe.md documents it.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Scope } from "../../actors/merchants/core/keys.ts";
import { STRIPE_API_VERSION } from "../../actors/webhooks/core/stripe-objects.ts";
import { deriveFingerprintKeys } from "../commands.ts";
import { bindLog, logFor } from "../context.ts";
import { utf8TextOf } from "../http-edges.ts";
import type { GatewayDeps } from "../deps.ts";
import { supportedCurrencies } from "../routes/payments.ts";
import { StripeEngine } from "./engine.ts";
import { StripeApiError, invalidRequest, toStripeError } from "./errors.ts";
import { FormError, parseForm } from "./form.ts";
import { StripeIdempotency } from "./idempotency.ts";
import { intentRoutes } from "./intents.ts";
import { refundRoutes } from "./refunds.ts";
import { FORM, type FormBody } from "./request.ts";
import type { StripeStores } from "./stores.ts";

const VERSION = /^\d{4}-\d{2}-\d{2}(\.[a-z_]{1,32})?$/;

/** Which scope each Stripe route needs (the native table is gateway/scopes.ts). */
function scopeOf(method: string, url: string | undefined): Scope | undefined {
  if (url === undefined) return undefined;
  if (method === "GET" || method === "HEAD") return Scope.paymentsRead;
  return url.startsWith("/v1/refunds") ? Scope.refundsWrite : Scope.paymentsWrite;
}

/** The layer as a plugin for `app.register(…, { prefix: "/v1" })`; absent without its stores. */
export function stripeLayer(deps: GatewayDeps & { stripe?: StripeStores }) {
  return (app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void => {
    const stores = deps.stripe;
    if (!stores) {
      done();
      return;
    }
    const keys = deriveFingerprintKeys(deps.fingerprintKey ?? deps.cardKey);
    const engine = new StripeEngine(deps, stores, keys);
    const idem = new StripeIdempotency(stores, keys.request, deps.metrics);

    // Out of /openapi.json: Stripe's API is documented by Stripe (and docs/stripe.md), and the
    // document's contract (our error envelope, bearerAuth on every /v1 route) is not this layer's.
    app.addHook("onRoute", (route) => {
      route.schema = { ...route.schema, hide: true };
    });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "buffer" },
      (_req, body, done) => {
        try {
          // Raw bytes that are not UTF-8 would be read as U+FFFD: refused, as a bad escape is.
          const text = utf8TextOf(body);
          if (text === undefined) throw new FormError("Invalid request body: it is not UTF-8.", undefined);
          const form: FormBody = { [FORM]: parseForm(text) };
          done(null, form);
        } catch (err) {
          done(err as Error, undefined);
        }
      },
    );
    app.addContentTypeParser("*", (_req, _payload, done) => {
      done(
        invalidRequest(
          "Stripe's API takes application/x-www-form-urlencoded bodies (as the Stripe SDKs send them), not this content type.",
        ),
        undefined,
      );
    });

    app.addHook("onRequest", (req, reply, done) => {
      reply.header("request-id", `req_${req.trace.traceId}`);
      const version = req.headers["stripe-version"];
      if (version !== undefined && (typeof version !== "string" || !VERSION.test(version))) {
        reply.header("stripe-version", STRIPE_API_VERSION);
        done(invalidRequest("Invalid Stripe API version.", "Stripe-Version", "invalid_api_version"));
        return;
      }
      reply.header("stripe-version", version ?? STRIPE_API_VERSION);
      if (req.is404) {
        done();
        return;
      }
      const who = deps.auth.identify(req.headers.authorization);
      if (!who.ok) {
        reply.header("www-authenticate", 'Bearer realm="Stripe"');
        done(
          new StripeApiError(
            401,
            "invalid_request_error",
            req.headers.authorization === undefined
              ? "You did not provide an API key. Provide it in the Authorization header as a Bearer token (Authorization: Bearer YOUR_SECRET_KEY)."
              : `Invalid API Key provided (${who.reason}).`,
          ),
        );
        return;
      }
      req.merchantId = who.merchantId;
      req.keyId = who.keyId;
      bindLog(req, reply, { merchantId: who.merchantId, layer: "stripe" });
      const needed = scopeOf(req.method, req.routeOptions.url);
      if (needed !== undefined && !who.scopes.has(needed)) {
        done(
          new StripeApiError(403, "invalid_request_error", `This API key lacks the permission ${needed}.`),
        );
        return;
      }
      done();
    });
    app.addHook("onResponse", async (req, reply) => {
      deps.metrics.stripeRequests.inc({
        route: req.is404 ? "unmatched" : (req.routeOptions.url ?? "unmatched"),
        status: String(reply.statusCode),
      });
    });

    app.setErrorHandler(async (err, req, reply) => answerError(err, req, reply));
    app.setNotFoundHandler(async (req, reply) => {
      const path = req.url.split("?")[0] ?? "";
      const e = new StripeApiError(
        404,
        "invalid_request_error",
        `Unrecognized request URL (${req.method}: ${safePath(path)}). docs/stripe.md lists what this Stripe-compatible API supports.`,
      );
      // `code` and `details` too: a native-API client sees its own error fields on an unknown /v1 URL.
      return reply.code(404).send({ error: { ...e.toBody().error, code: "not_found", details: {} } });
    });

    const currencies = supportedCurrencies(deps.pspCapabilities);
    intentRoutes(app, { engine, idem, currencies });
    refundRoutes(app, { engine, idem });
    done();
  };
}

function answerError(err: unknown, req: FastifyRequest, reply: FastifyReply) {
  const e = toStripeError(err);
  if (e.status >= 500 && e.status !== 503) logFor(req).error({ err }, "stripe request failed");
  else logFor(req).info({ type: e.type, code: e.fields.code, status: e.status }, e.message);
  if (e.status === 409) reply.header("stripe-should-retry", "true");
  return reply.code(e.status).type("application/json").send(JSON.stringify(e.toBody()));
}

/** A path echoed in a message: no card number someone typed into it, and not too long. */
function safePath(path: string): string {
  return /\d{12}/.test(path) ? "(path not shown)" : path.slice(0, 200);
}
