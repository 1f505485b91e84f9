// What the gateway knows about a request before its handler runs: the trace it belongs to, the
// merchant it authenticated as, its Idempotency-Key; and the hooks that establish each, binding
// them to the request's log lines as they become known.
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
import type { MerchantAuthenticator } from "./auth.ts";
import { ApiError, validationError } from "./errors.ts";
import { IdempotencyKey } from "./schemas.ts";
import { scopeFor } from "./scopes.ts";
import { traceFrom, type TraceContext } from "./trace.ts";

declare module "fastify" {
  interface FastifyRequest {
    trace: TraceContext;
    /** Set by the /v1 auth hook; empty outside /v1. */
    merchantId: string;
    /** The merchant's key (null for a configured key of a test harness); set by the /v1 auth hook. */
    keyId: string | null;
    /** Set by the Idempotency-Key hook on routes that need one. */
    idempotencyKey: string;
    /** What this request's log lines carry (traceId, merchantId, paymentId, operator) as they become known. */
    logFields: Record<string, string>;
  }
}

/**
 * Adds fields to this request's later log lines: the access line and any error line. A plain
 * object, not a pino child per request (and per field): children cost on every request, the
 * fields only when a line is written.
 */
export function bindLog(req: FastifyRequest, _reply: FastifyReply, fields: Record<string, string>): void {
  req.logFields = req.logFields === undefined ? fields : { ...req.logFields, ...fields };
}

type LogFn = (obj: Record<string, unknown>, msg: string) => void;

/** The request's logger with its fields on every line. */
export function logFor(req: FastifyRequest): { info: LogFn; warn: LogFn; error: LogFn } {
  const f = req.logFields;
  return {
    info: (obj, msg) => req.log.info({ ...f, ...obj }, msg),
    warn: (obj, msg) => req.log.warn({ ...f, ...obj }, msg),
    error: (obj, msg) => req.log.error({ ...f, ...obj }, msg),
  };
}

export function decorateRequests(app: FastifyInstance): void {
  app.decorateRequest("trace", null as unknown as TraceContext);
  app.decorateRequest("merchantId", "");
  app.decorateRequest("keyId", null);
  app.decorateRequest("idempotencyKey", "");
  app.decorateRequest("logFields", undefined as unknown as Record<string, string>);
}

// Callback-style hooks: none of them waits on anything.
type Done = HookHandlerDoneFunction;

export function traceHook(req: FastifyRequest, reply: FastifyReply, done: Done): void {
  req.trace = traceFrom(req.headers.traceparent);
  reply.header("traceparent", req.trace.traceparent);
  bindLog(req, reply, { traceId: req.trace.traceId });
  done();
}

const REFUSED: Record<"unknown" | "expired" | "revoked", string> = {
  unknown: "a valid API key is required: Authorization: Bearer <key>",
  expired: "key expired",
  revoked: "key revoked",
};

/** onRequest hook of /v1: who the key is (401 otherwise), then whether it holds the route's scope (403). */
export function authHook(auth: MerchantAuthenticator) {
  return (req: FastifyRequest, reply: FastifyReply, done: Done): void => {
    const who = auth.identify(req.headers.authorization);
    if (!who.ok) {
      reply.header("www-authenticate", 'Bearer realm="switchyard"');
      done(new ApiError("unauthorized", REFUSED[who.reason]));
      return;
    }
    req.merchantId = who.merchantId;
    req.keyId = who.keyId;
    bindLog(req, reply, { merchantId: who.merchantId, ...(who.keyId !== null && { keyId: who.keyId }) });
    const needed = scopeFor(req.method, req.routeOptions.url);
    if (needed !== undefined && !who.scopes.has(needed)) {
      done(
        new ApiError("insufficient_scope", `this key lacks the scope ${needed}`, { missing_scope: needed }),
      );
      return;
    }
    done();
  };
}

export function idempotencyKeyHook(req: FastifyRequest, _reply: FastifyReply, done: Done): void {
  const raw = req.headers["idempotency-key"];
  if (raw === undefined || raw === "") {
    done(new ApiError("idempotency_key_missing", "this request needs an Idempotency-Key header"));
    return;
  }
  const parsed = IdempotencyKey.safeParse(raw);
  if (!parsed.success) {
    done(
      validationError([
        {
          in: "headers",
          path: "idempotency-key",
          code: "invalid_format",
          message: "Idempotency-Key must be 1 to 255 printable ASCII characters",
        },
      ]),
    );
    return;
  }
  req.idempotencyKey = parsed.data;
  done();
}

/**
 * A body-less POST means "no options": the follow-up schemas then see `{}`. A JSON `null` is not
 * "no body": the parser refuses it (http-edges.ts), so it never reaches this hook.
 */
export function emptyBodyAsObject(req: FastifyRequest, _reply: FastifyReply, done: Done): void {
  if (req.body === undefined) req.body = {};
  done();
}
