// What the operator routes share: the OpenAPI tags and security of /ops, the store-call wrapper
// that keeps the store's refusal codes, the re-validation guard of activations, the audit line, and
// the activation body.
import { logFor } from "../context.ts";
import type { FastifyRequest } from "fastify";
import type { PspCapabilities } from "../../actors/policy/schemas.ts";
import { validatePolicy, type PolicyProblem } from "../../actors/policy/validate.ts";
import { PolicyStoreError, type Activation, type ActivationGuard } from "../../streams/policy-store.ts";
import type { PolicyKind } from "../../actors/policy/schemas.ts";
import { ApiError } from "../errors.ts";
import type { AuditLog } from "../../streams/audit-log.ts";

export const OPS_TAGS = ["operators"];
export const OPS_SECURITY = [{ operatorKey: [] }];

/** Runs a store operation: its refusals keep their code, an unreachable store is 503 (logged here). */
export async function storeCall<T>(req: FastifyRequest, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (err instanceof PolicyStoreError) throw new ApiError(err.code, err.message, {}, { cause: err });
    logFor(req).error({ err }, "policy store call failed");
    throw new ApiError(
      "service_unavailable",
      "the policy store cannot be reached right now; retry later",
      {},
      { cause: err },
    );
  }
}

/** Refuses a stored document that no longer validates against the PSPs configured now. */
export function activationGuard(capabilities: ReadonlyMap<string, PspCapabilities>): ActivationGuard {
  return (document) => {
    const result = validatePolicy(document, { capabilities });
    if (!result.ok)
      throw new ApiError(
        "policy_not_activatable",
        `this ${document.kind} version is not valid with the PSPs configured now: ${problemSummary(result.problems)}`,
        { problems: result.problems },
      );
  };
}

declare module "fastify" {
  interface FastifyRequest {
    /** Set on /ops requests when the audit stream is configured. */
    auditLog: AuditLog | null;
  }
}

/**
 * Every change an operator makes: one log line with their name (never their key), and one record in
 * the append-only AUDIT stream (GET /ops/audit). The change is already made when this runs: a record
 * that cannot be stored is logged as an error and counted, never turned into a failure of the change.
 */
export async function audit(
  req: FastifyRequest,
  action: string,
  fields: Record<string, unknown>,
  message: string,
): Promise<void> {
  logFor(req).info({ audit: action, operator: req.operator, ...fields }, message);
  if (!req.auditLog) return;
  try {
    await req.auditLog.append({
      v: 1,
      at: new Date().toISOString(),
      actor: req.operator,
      action,
      message,
      fields,
    });
  } catch (err) {
    logFor(req).error({ err, audit: action }, "audit record not stored");
  }
}

/** The first problem and how many more, for an error message. */
export function problemSummary(problems: readonly PolicyProblem[]): string {
  const first = problems[0];
  if (!first) return "no details";
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : "";
  return `${first.path}: ${first.message}${more}`;
}

export function activationBody(kind: PolicyKind, a: Activation) {
  return { kind, version: a.version, op: a.op, activated_at: a.at, activated_by: a.by ?? null };
}
