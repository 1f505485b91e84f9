// The gateway's error table (gateway/errors.ts) in gRPC terms: each ErrorCode to a gRPC status code,
// and the machine-readable code carried as the standard rich error model: `grpc-status-details-bin`
// holds a google.rpc.Status whose details are a google.rpc.ErrorInfo (reason: our code, domain
// "switchyard", metadata: the error's scalar details) and, for invalid input, a google.rpc.BadRequest
// naming each field. Any gRPC client library decodes them (grpcurl prints them).
import { Metadata, status as Status, type StatusObject } from "@grpc/grpc-js";
import { fromJSON, type MessageTypeDefinition } from "@grpc/proto-loader";
import { ApiError, ErrorStatus, isErrorCode, type ErrorCode } from "../errors.ts";

export const ERROR_DOMAIN = "switchyard";
export const DETAILS_KEY = "grpc-status-details-bin";

const ERROR_INFO_URL = "type.googleapis.com/google.rpc.ErrorInfo";
const BAD_REQUEST_URL = "type.googleapis.com/google.rpc.BadRequest";

// The three standard messages (googleapis google/rpc/status.proto, error_details.proto), as far as
// used here: same names, numbers and types, so any client's copy decodes them.
const DESCRIPTOR = {
  nested: {
    google: {
      nested: {
        protobuf: {
          nested: {
            Any: { fields: { type_url: { type: "string", id: 1 }, value: { type: "bytes", id: 2 } } },
          },
        },
        rpc: {
          nested: {
            Status: {
              fields: {
                code: { type: "int32", id: 1 },
                message: { type: "string", id: 2 },
                details: { rule: "repeated", type: "google.protobuf.Any", id: 3 },
              },
            },
            ErrorInfo: {
              fields: {
                reason: { type: "string", id: 1 },
                domain: { type: "string", id: 2 },
                metadata: { keyType: "string", type: "string", id: 3 },
              },
            },
            BadRequest: {
              fields: { field_violations: { rule: "repeated", type: "FieldViolation", id: 1 } },
              nested: {
                FieldViolation: {
                  fields: { field: { type: "string", id: 1 }, description: { type: "string", id: 2 } },
                },
              },
            },
          },
        },
      },
    },
  },
};
// Read as proto-loader reads our own service: keepCase, and the serializers it builds.
const messages = fromJSON(DESCRIPTOR, { keepCase: true, defaults: true });
const messageType = <T>(name: string) => messages[name] as unknown as MessageTypeDefinition<T, T>;
type Any = { type_url: string; value: Uint8Array };
const StatusType = messageType<{ code: number; message: string; details: Any[] }>("google.rpc.Status");
const ErrorInfoType = messageType<{ reason: string; domain: string; metadata: Record<string, string> }>(
  "google.rpc.ErrorInfo",
);
const BadRequestType = messageType<{ field_violations: Array<{ field: string; description: string }> }>(
  "google.rpc.BadRequest",
);

/** Where the HTTP status alone does not say it, the gRPC code that does. */
const OVERRIDES: Partial<Record<ErrorCode, Status>> = {
  idempotency_key_reused: Status.ALREADY_EXISTS,
  merchant_exists: Status.ALREADY_EXISTS,
  operation_in_progress: Status.ABORTED,
  currency_not_supported: Status.INVALID_ARGUMENT,
  request_timeout: Status.DEADLINE_EXCEEDED,
  payload_too_large: Status.RESOURCE_EXHAUSTED,
  headers_too_large: Status.RESOURCE_EXHAUSTED,
  webhook_endpoint_limit_reached: Status.RESOURCE_EXHAUSTED,
};

/** The gRPC status code of one of our error codes: by its HTTP status, then the overrides above. */
export function grpcCodeOf(code: ErrorCode): Status {
  const override = OVERRIDES[code];
  if (override !== undefined) return override;
  const http = ErrorStatus[code] as number;
  if (http === 401) return Status.UNAUTHENTICATED;
  if (http === 403) return Status.PERMISSION_DENIED;
  if (http === 404) return Status.NOT_FOUND;
  if (http === 409 || http === 422) return Status.FAILED_PRECONDITION;
  if (http === 503) return Status.UNAVAILABLE;
  if (http >= 400 && http < 500) return Status.INVALID_ARGUMENT;
  return Status.INTERNAL;
}

type Issue = { path?: unknown; message?: unknown };

/** What a gRPC error says: our code (an ErrorCode, or `deadline_exceeded`), message and details. */
export type GrpcError = { code: string; message: string; details: Record<string, unknown> };

/** An error as a gRPC status with its rich details; `code` defaults to the table's. */
export function toGrpcStatus(
  err: GrpcError,
  code: Status = isErrorCode(err.code) ? grpcCodeOf(err.code) : Status.INTERNAL,
): Partial<StatusObject> {
  const info = ErrorInfoType.serialize({
    reason: err.code,
    domain: ERROR_DOMAIN,
    metadata: scalarDetails(err),
  });
  const details: Any[] = [{ type_url: ERROR_INFO_URL, value: info }];
  const issues = Array.isArray(err.details.issues) ? (err.details.issues as Issue[]) : [];
  if (issues.length > 0) {
    const violations = issues.map((i) => ({
      field: typeof i.path === "string" ? i.path : "",
      description: typeof i.message === "string" ? i.message : "invalid value",
    }));
    details.push({
      type_url: BAD_REQUEST_URL,
      value: BadRequestType.serialize({ field_violations: violations }),
    });
  }
  const metadata = new Metadata();
  metadata.set(DETAILS_KEY, StatusType.serialize({ code, message: err.message, details }));
  return { code, details: err.message, metadata };
}

/** The error's details that are strings, numbers or booleans (ErrorInfo's metadata is string to string). */
function scalarDetails(err: GrpcError): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(err.details))
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") out[k] = String(v);
    else if (Array.isArray(v) && v.every((x) => typeof x === "string")) out[k] = v.join(",");
  return out;
}

/** What a client reads of a failed call's details (the tests, and any TypeScript client). */
export type DecodedStatus = {
  code: number;
  message: string;
  reason?: string;
  domain?: string;
  metadata: Record<string, string>;
  violations: Array<{ field: string; description: string }>;
};

export function decodeStatusDetails(bytes: Buffer): DecodedStatus {
  const s = StatusType.deserialize(bytes);
  const out: DecodedStatus = { code: s.code, message: s.message, metadata: {}, violations: [] };
  for (const d of s.details) {
    const value = Buffer.from(d.value);
    if (d.type_url === ERROR_INFO_URL) {
      const info = ErrorInfoType.deserialize(value);
      Object.assign(out, { reason: info.reason, domain: info.domain, metadata: info.metadata });
    } else if (d.type_url === BAD_REQUEST_URL)
      out.violations = BadRequestType.deserialize(value).field_violations;
  }
  return out;
}

/** Anything a handler threw, as an ApiError (an unknown error is internal_error; the caller logs it). */
export function asApiError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError("internal_error", "internal error", {}, { cause: err });
}
