// The gateway's error taxonomy: one table from stable error code to HTTP status (fastify's FST_ERR_*
// registry is the model), the ApiError that carries a code, and the translation of everything else
// that can go wrong in a request (fastify's parser and validation errors, actor rejections) into it.
// Bad input is never a 500; a 500 never says what broke.
import type { RejectionCode } from "../actors/payment/core/decide.ts";
import type { MerchantKeyStoreErrorCode } from "../streams/merchant-keys.ts";
import type { PolicyStoreErrorCode } from "../actors/policy/core/workflow.ts";
import type { WebhookEndpointStoreErrorCode } from "../streams/webhook-endpoints.ts";

export const ErrorStatus = {
  validation_error: 400,
  invalid_json: 400,
  idempotency_key_missing: 400,
  invalid_policy: 400,
  /** A header that must appear once (Authorization, Idempotency-Key, Content-Type…) came twice. */
  duplicate_header: 400,
  /** reference, metadata or another free-text field holds what looks like a card number. */
  card_number_in_free_text: 400,
  /** A string or key (body, query, path) holds a NUL or a lone surrogate: no store can hold it (details.issues). */
  invalid_characters: 400,
  /** The JSON body nests deeper than MAX_JSON_DEPTH (details.max_depth). */
  nesting_too_deep: 400,
  /** The JSON body repeats a key within one object (details.issues[].path): readers disagree on which counts. */
  duplicate_key: 400,
  /** Node's HTTP parser or fastify's router could not read the request (bad header bytes, bad URL). */
  malformed_request: 400,
  unauthorized: 401,
  /** A PSP notification whose signature is not the PSP's (POST /webhooks/psp/:psp). */
  notification_signature_invalid: 401,
  /** A PSP notification signed too long ago (outside the tolerance): a replay is refused. */
  notification_timestamp_stale: 401,
  /** A PSP notification that is not the PSP's format. */
  notification_malformed: 400,
  forbidden: 403,
  operator_api_disabled: 403,
  /** The merchant key is valid but lacks the route's scope (details.missing_scope). */
  insufficient_scope: 403,
  /** The operator's role is below what the route needs (details.required, details.role). */
  insufficient_role: 403,
  merchant_not_found: 404,
  key_not_found: 404,
  merchant_exists: 409,
  payment_not_found: 404,
  policy_version_not_found: 404,
  psp_not_found: 404,
  dead_letter_not_found: 404,
  exception_not_found: 404,
  read_model_not_found: 404,
  /** The same report id was ingested before with other content: a closed batch never changes. */
  report_conflict: 409,
  exception_already_resolved: 409,
  /** The upload is not this PSP's report (its header row is missing or wrong). */
  report_format_invalid: 400,
  link_target_invalid: 422,
  nothing_to_requery: 422,
  not_found: 404,
  /** GET /schemas/{name}/{version}.json: no such message or version in the registry (docs/nats.md). */
  schema_not_found: 404,
  /** Webhooks (issue 10): no such event or endpoint of this merchant; a list cursor that is not theirs. */
  event_not_found: 404,
  invalid_cursor: 400,
  /** A redelivery asked for an event none of the merchant's enabled endpoints takes. */
  no_matching_endpoint: 409,
  invalid_state_transition: 409,
  operation_in_progress: 409,
  no_previous_version: 409,
  no_shadow_version: 409,
  shadow_is_active: 409,
  policy_not_activatable: 409,
  idempotency_key_reused: 422,
  amount_too_large: 422,
  /** A PSP's dispute the payment cannot owe (another currency, more than the merchant holds): kept. */
  dispute_out_of_bounds: 422,
  /** No configured PSP takes the currency: refused before anything is queued. */
  currency_not_supported: 422,
  /** The body did not arrive within the request timeout (a Content-Length longer than the body). */
  request_timeout: 408,
  payload_too_large: 413,
  uri_too_long: 414,
  unsupported_media_type: 415,
  headers_too_large: 431,
  /** A webhook endpoint URL the platform will not call (details.reason: scheme_not_allowed, address_not_allowed…). */
  invalid_webhook_url: 400,
  webhook_endpoint_not_found: 404,
  /** The merchant already has the most webhook endpoints allowed (details.limit). */
  webhook_endpoint_limit_reached: 409,
  service_unavailable: 503,
  /** A read model is being rebuilt from its stream: what it answers now would be incomplete. */
  read_model_rebuilding: 503,
  /** This PSP's notification secret is not configured: its door is closed (docs/notifications.md). */
  notifications_not_configured: 503,
  /** An operator change whose audit record the AUDIT stream did not take: refused, nothing changed. */
  audit_unavailable: 503,
  internal_error: 500,
  /** A ledger sum past 2^53 cannot be given as an exact JSON number (the message names it). */
  ledger_out_of_range: 500,
  command_dead_lettered: 500,
} as const;
export type ErrorCode = keyof typeof ErrorStatus;
export const ERROR_CODES = Object.keys(ErrorStatus) as [ErrorCode, ...ErrorCode[]];

// A rejection code the actor can send back must have a row in the table: this fails to compile
// when decide.ts grows a code the gateway does not know.
const _everyRejectionMapped: Record<RejectionCode, number> = ErrorStatus;
// Likewise for the policy store's refusals, which the operator routes answer under their own code.
const _everyStoreRefusalMapped: Record<PolicyStoreErrorCode, number> = ErrorStatus;
const _everyMerchantRefusalMapped: Record<MerchantKeyStoreErrorCode, number> = ErrorStatus;
const _everyWebhookEndpointRefusalMapped: Record<WebhookEndpointStoreErrorCode, number> = ErrorStatus;

export type ErrorDetails = Record<string, unknown>;

/** The body of every error response. */
export type ErrorBody = { error: { code: ErrorCode; message: string; details: ErrorDetails } };

export class ApiError extends Error {
  override name = "ApiError";
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = ErrorStatus[code];
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

/** What a store or service refused, in the table's terms (its message is meant for the client). */
export type Refusal = { code: ErrorCode; message: string; details?: ErrorDetails };

/**
 * Runs a call into a store or service for a route: an ApiError passes as it is; an error `refusal`
 * recognizes keeps its code, message and details; anything else (the database, NATS, a KV bucket
 * away) is handed to `log` and answered 503 `service_unavailable` with `unavailable` as its message,
 * never a 500 that says nothing. The one translation the routes share.
 */
export async function storeCall<T>(
  fn: () => Promise<T>,
  o: { unavailable: string; refusal?: (err: unknown) => Refusal | undefined; log?: (err: unknown) => void },
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ApiError) throw err;
    const r = o.refusal?.(err);
    if (r) throw new ApiError(r.code, r.message, r.details ?? {}, { cause: err });
    o.log?.(err);
    throw new ApiError("service_unavailable", o.unavailable, {}, { cause: err });
  }
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ErrorStatus, code);
}

/** Where a validation issue was found and what is wrong, never the offending value (it may be a PAN). */
export type ValidationIssue = { in: string; path: string; code: string; message: string };

export function validationError(issues: ValidationIssue[]): ApiError {
  const first = issues[0];
  const message = first
    ? `${first.path || first.in}: ${first.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ""}`
    : "the request is invalid";
  return new ApiError("validation_error", message, { issues });
}

/** An actor's rejection of a command, through the same table. */
export function fromRejection(r: { code: string; message: string; details?: ErrorDetails }): ApiError {
  if (!isErrorCode(r.code)) {
    // Logged through the cause, never answered: the code and message are internal.
    const cause = new Error(`actor rejected with unmapped code ${r.code}: ${r.message}`);
    return new ApiError("internal_error", "the request could not be processed", {}, { cause });
  }
  return new ApiError(r.code, r.message, r.details ?? {});
}

type FastifyLikeError = {
  code?: unknown;
  statusCode?: unknown;
  validation?: unknown;
  validationContext?: unknown;
};

// fastify's own request errors, by code: what each means for a client.
const FASTIFY_CODES: Readonly<Record<string, { code: ErrorCode; message: string }>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { code: "invalid_json", message: "the body is not valid JSON" },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: "invalid_json", message: "the body is empty" },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: "payload_too_large", message: "the body is too large" },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: "unsupported_media_type",
    message: "the body must be sent as application/json",
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: "validation_error",
    message: "Content-Length does not match the body",
  },
  FST_ERR_BAD_URL: { code: "malformed_request", message: "the URL is malformed" },
  FST_ERR_MAX_PARAM_LENGTH: { code: "uri_too_long", message: "a path parameter is too long" },
  FST_ERR_NOT_FOUND: { code: "not_found", message: "no such route" },
};

/**
 * Whatever a request handler, hook, parser or validator threw, as an ApiError. Unknown errors
 * become `internal_error` (the caller logs the original); client errors fastify raised keep
 * their 4xx meaning even when fastify grows a code this table does not list.
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (typeof err !== "object" || err === null)
    return new ApiError("internal_error", "internal error", {}, { cause: err });
  const e = err as FastifyLikeError;
  if (Array.isArray(e.validation)) {
    const where = typeof e.validationContext === "string" ? e.validationContext : "body";
    return validationError(e.validation.map((v) => issueOf(where, v)));
  }
  const known = typeof e.code === "string" ? FASTIFY_CODES[e.code] : undefined;
  if (known) return new ApiError(known.code, known.message, {}, { cause: err });
  const status = typeof e.statusCode === "number" ? e.statusCode : 500;
  if (status === 413) return new ApiError("payload_too_large", "the body is too large", {}, { cause: err });
  if (status === 415)
    return new ApiError("unsupported_media_type", "unsupported content type", {}, { cause: err });
  if (status === 404) return new ApiError("not_found", "no such route", {}, { cause: err });
  if (status >= 400 && status < 500)
    return new ApiError("validation_error", "the request is malformed", {}, { cause: err });
  return new ApiError("internal_error", "internal error", {}, { cause: err });
}

// fastify-type-provider-zod turns each zod issue into an ajv-shaped record: instancePath
// "/payment_method/card/number", the zod issue code as keyword.
function issueOf(where: string, v: unknown): ValidationIssue {
  const rec = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
  const instancePath = typeof rec.instancePath === "string" ? rec.instancePath : "";
  return {
    in: where,
    path: instancePath.split("/").filter(Boolean).join("."),
    code: typeof rec.keyword === "string" ? rec.keyword : "invalid",
    message: typeof rec.message === "string" ? rec.message : "invalid value",
  };
}
