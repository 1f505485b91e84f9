// OpenAPI response documentation shared by the routes: the payment object under a per-status
// description, and error responses whose descriptions list the codes the error table maps to
// each status, so the document and gateway/errors.ts cannot disagree.
import { ErrorStatus, type ErrorCode } from "../errors.ts";
import { ErrorResponse, PaymentResponse } from "../schemas.ts";

export function paymentResponse(description: string) {
  return PaymentResponse.describe(description);
}

export function errorResponses<S extends number>(...statuses: S[]): Record<S, typeof ErrorResponse> {
  const out = {} as Record<S, typeof ErrorResponse>;
  for (const status of statuses) {
    const codes = (Object.keys(ErrorStatus) as ErrorCode[]).filter((c) => ErrorStatus[c] === status);
    out[status] = ErrorResponse.describe(`Error: ${codes.join(", ") || "see code"}`);
  }
  return out;
}

/** Route schema marker: the body may be omitted (follow-ups take no options by default). */
export const OPTIONAL_BODY = "x-optional-body";

type DocumentObject = { openapiObject: object } | { swaggerObject: object };

/**
 * @fastify/swagger marks every documented body as required, because fastify itself would refuse
 * a missing one; ours turn a missing body into `{}`, so clients generated from the document must
 * not be forced to send one.
 */
export function markOptionalBodies(doc: DocumentObject): object {
  const spec = "openapiObject" in doc ? doc.openapiObject : doc.swaggerObject;
  const paths = (spec as { paths?: Record<string, Record<string, Record<string, unknown>>> }).paths ?? {};
  for (const ops of Object.values(paths))
    for (const op of Object.values(ops)) {
      if (op[OPTIONAL_BODY] !== true) continue;
      delete op[OPTIONAL_BODY];
      const body = op.requestBody as { required?: boolean } | undefined;
      if (body) body.required = false;
    }
  return spec;
}
