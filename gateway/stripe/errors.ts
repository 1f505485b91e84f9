// Errors in Stripe's shape: `{"error": {type, code, decline_code, param, message, …}}` with Stripe's
// HTTP statuses, which is what the official SDK turns into its typed errors (400/404 →
// StripeInvalidRequestError, or StripeIdempotencyError when type is idempotency_error; 401 →
// StripeAuthenticationError; 402 → StripeCardError; 403 → StripePermissionError; else
// StripeAPIError). Our own error taxonomy (gateway/errors.ts) is mapped here once.
import { toApiError, type ApiError, type ErrorCode } from "../errors.ts";
import { FormError } from "./form.ts";

export type StripeErrorType =
  "invalid_request_error" | "card_error" | "idempotency_error" | "api_error" | "rate_limit_error";

export type StripeErrorFields = {
  code?: string;
  decline_code?: string;
  param?: string;
  payment_intent?: Record<string, unknown>;
  charge?: string;
};

export class StripeApiError extends Error {
  override name = "StripeApiError";
  constructor(
    readonly status: number,
    readonly type: StripeErrorType,
    message: string,
    readonly fields: StripeErrorFields = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toBody(): { error: Record<string, unknown> } {
    return { error: { ...this.fields, message: this.message, type: this.type } };
  }
}

export const invalidRequest = (message: string, param?: string, code?: string): StripeApiError =>
  new StripeApiError(400, "invalid_request_error", message, {
    ...(code !== undefined && { code }),
    ...(param !== undefined && { param }),
  });

export const resourceMissing = (what: string, id: string, param = "id"): StripeApiError =>
  new StripeApiError(404, "invalid_request_error", `No such ${what}: '${safeId(id)}'`, {
    code: "resource_missing",
    param,
  });

export const unexpectedState = (message: string): StripeApiError =>
  invalidRequest(message, undefined, "payment_intent_unexpected_state");

/** An id echoed in a message: only id characters, never a card number someone typed in a path. */
function safeId(id: string): string {
  return /^[A-Za-z0-9_]{1,80}$/.test(id) && !/\d{12}/.test(id) ? id : "(invalid id)";
}

/** Our codes that are not invalid_request_error 400, with Stripe's status, type and code. */
const MAPPED: Partial<Record<ErrorCode, [number, StripeErrorType, string | undefined]>> = {
  unauthorized: [401, "invalid_request_error", undefined],
  insufficient_scope: [403, "invalid_request_error", "secret_key_required"],
  forbidden: [403, "invalid_request_error", undefined],
  payment_not_found: [404, "invalid_request_error", "resource_missing"],
  not_found: [404, "invalid_request_error", undefined],
  idempotency_key_reused: [400, "idempotency_error", undefined],
  invalid_state_transition: [400, "invalid_request_error", "payment_intent_unexpected_state"],
  operation_in_progress: [400, "invalid_request_error", "payment_intent_unexpected_state"],
  amount_too_large: [400, "invalid_request_error", "amount_too_large"],
  currency_not_supported: [400, "invalid_request_error", "parameter_invalid_string"],
  payload_too_large: [413, "invalid_request_error", undefined],
  service_unavailable: [503, "api_error", undefined],
  read_model_rebuilding: [503, "api_error", undefined],
  command_dead_lettered: [500, "api_error", undefined],
  internal_error: [500, "api_error", undefined],
};

/** Whatever a Stripe route or a hook before it threw, as a Stripe error. */
export function toStripeError(err: unknown): StripeApiError {
  if (err instanceof StripeApiError) return err;
  if (err instanceof FormError) return invalidRequest(err.message, err.param);
  const api: ApiError = toApiError(err);
  const mapped = MAPPED[api.code];
  const param = paramOf(api);
  const [status, type, code] = mapped ?? [
    api.status >= 500 ? api.status : 400,
    api.status >= 500 ? "api_error" : "invalid_request_error",
    api.code === "validation_error" ? "parameter_invalid" : api.code,
  ];
  // A 500 never says what broke; the rest keep our message (it names the field, never the value).
  const message = status >= 500 && status !== 503 ? "An unexpected error occurred." : api.message;
  return new StripeApiError(
    status,
    type,
    message,
    { ...(code !== undefined && { code }), ...(param !== undefined && { param }) },
    { cause: err },
  );
}

/** The first issue's path in Stripe's bracket notation (`payment_method_data[card][number]`). */
function paramOf(e: ApiError): string | undefined {
  const issues = e.details.issues;
  const first: unknown = Array.isArray(issues) ? issues[0] : undefined;
  const path = typeof first === "object" && first !== null ? (first as { path?: unknown }).path : undefined;
  if (typeof path !== "string" || path === "") return undefined;
  const [head, ...rest] = path.split(".");
  return head + rest.map((s) => `[${s}]`).join("");
}
