// OpenAPI documentation shared by the routes: the payment object under a per-status description,
// each route's error responses built from the error codes it can return (grouped by the status
// the error table gives them, so the document and gateway/errors.ts cannot disagree), and the
// final touches on the generated document: optional bodies, the traceparent header on every
// operation, and component schemas named as a client generator should name its types.
import { ErrorStatus, type ErrorCode } from "../errors.ts";
import { ErrorResponse, PaymentResponse } from "../schemas.ts";

export function paymentResponse(description: string) {
  return PaymentResponse.describe(description);
}

/** What any request may be answered, whatever its route: the edge's refusals and the 500. */
export const EDGE_ERRORS = [
  "malformed_request",
  "duplicate_header",
  "uri_too_long",
  "headers_too_large",
  "request_timeout",
  "unsupported_media_type",
  /** A NUL or a lone surrogate in a path parameter, the query string or the body. */
  "invalid_characters",
  "internal_error",
] as const satisfies readonly ErrorCode[];
/** What a route that reads a JSON body (or a query string) may add. */
export const BODY_ERRORS = [
  "validation_error",
  "invalid_json",
  "card_number_in_free_text",
  "nesting_too_deep",
  "duplicate_key",
  "payload_too_large",
] as const satisfies readonly ErrorCode[];
export const OPERATOR_ERRORS = [
  "unauthorized",
  "forbidden",
  "insufficient_role",
  "operator_api_disabled",
  "service_unavailable",
] as const satisfies readonly ErrorCode[];

type StatusOf<C extends ErrorCode> = (typeof ErrorStatus)[C];
type EdgeCode = (typeof EDGE_ERRORS)[number];

/**
 * The error responses of a route that can answer `codes` (and the edge's): one entry per status,
 * its description naming exactly those codes. Every entry is the named `Error` schema.
 */
export function errorResponses<C extends ErrorCode>(
  ...codes: readonly (C | readonly C[])[]
): Record<StatusOf<C | EdgeCode>, typeof ErrorResponse> {
  const all = [...new Set<ErrorCode>([...EDGE_ERRORS, ...codes.flat()])];
  const byStatus = new Map<number, ErrorCode[]>();
  for (const c of all) byStatus.set(ErrorStatus[c], [...(byStatus.get(ErrorStatus[c]) ?? []), c]);
  // Keyed by the statuses of `codes`, which is what the type says; TS cannot follow the grouping.
  const out = {} as Record<StatusOf<C | EdgeCode>, typeof ErrorResponse>;
  const entries = out as Record<number, typeof ErrorResponse>;
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b))
    entries[status] = ErrorResponse.describe(`Error: ${list.join(", ")}`);
  return out;
}

/** Route schema marker: the body may be omitted (follow-ups take no options by default). */
export const OPTIONAL_BODY = "x-optional-body";

type DocumentObject = { openapiObject: object } | { swaggerObject: object };
type Operation = Record<string, unknown> & { parameters?: unknown[]; responses?: Record<string, unknown> };
type Spec = {
  paths?: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, unknown>; parameters?: Record<string, unknown> };
};

const TRACEPARENT = {
  name: "traceparent",
  in: "header",
  required: false,
  description:
    "W3C trace context. Taken when well formed, a new trace started otherwise; echoed on every " +
    "answer and carried to the worker and the PSP calls. Log lines carry its trace id.",
  schema: { type: "string", example: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
};

/**
 * After the routes are documented: bodies our routes treat as optional are marked so; every
 * operation gets the traceparent header (request and response); component schemas get their
 * plain names. fastify-type-provider-zod registers an input copy (`XInput`) and an output copy
 * of each named schema; a request body only ever uses the input one and a response the output
 * one, so each is renamed to `X` when the other is unused, and unused copies are dropped.
 */
export function finishDocument(transformed: object): object {
  const spec = transformed as Spec;
  const paths = spec.paths ?? {};
  for (const ops of Object.values(paths))
    for (const op of Object.values(ops)) {
      if (op[OPTIONAL_BODY] === true) {
        delete op[OPTIONAL_BODY];
        const body = op.requestBody as { required?: boolean } | undefined;
        if (body) body.required = false;
      }
      op.parameters = [...(op.parameters ?? []), { $ref: "#/components/parameters/traceparent" }];
      for (const response of Object.values(op.responses ?? {}))
        if (typeof response === "object" && response !== null) {
          const r = response as { headers?: Record<string, unknown> };
          r.headers = {
            ...r.headers,
            traceparent: { description: "The request's trace context.", schema: { type: "string" } },
          };
        }
    }
  spec.components = {
    ...spec.components,
    parameters: { ...spec.components?.parameters, traceparent: TRACEPARENT },
  };
  return renameComponents(spec);
}

/** For @fastify/swagger's transformObject: runs after fastify-type-provider-zod's. */
export function documentTransform(toObject: (doc: DocumentObject) => object) {
  return (doc: DocumentObject): object => finishDocument(toObject(doc));
}

function renameComponents(spec: Spec): Spec {
  const schemas = spec.components?.schemas;
  if (!schemas) return spec;
  let text = JSON.stringify({ ...spec, components: { ...spec.components, schemas: {} } });
  // Reachability from the paths, following refs through the schemas themselves.
  const used = new Set<string>();
  const visit = (json: string) => {
    for (const [, name] of json.matchAll(/"#\/components\/schemas\/([^"]+)"/g))
      if (!used.has(name!) && schemas[name!] !== undefined) {
        used.add(name!);
        visit(JSON.stringify(schemas[name!]));
      }
  };
  visit(text);
  const renamed: Record<string, string> = {};
  for (const name of used)
    if (name.endsWith("Input")) {
      const plain = name.slice(0, -"Input".length);
      if (!used.has(plain)) renamed[name] = plain;
    }
  const rename = (json: string) =>
    json.replace(/"#\/components\/schemas\/([^"]+)"/g, (m, n: string) =>
      renamed[n] !== undefined ? `"#/components/schemas/${renamed[n]}"` : m,
    );
  text = rename(text);
  const kept: Record<string, unknown> = {};
  for (const name of [...used].sort())
    kept[renamed[name] ?? name] = JSON.parse(rename(JSON.stringify(schemas[name]))) as unknown;
  const out = JSON.parse(text) as Spec;
  out.components = { ...out.components, schemas: kept };
  return out;
}
