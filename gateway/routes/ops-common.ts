// What the operator routes share: the OpenAPI tags and security of /ops, the store-call wrapper
// that keeps the store's refusal codes, the re-validation guard of activations, the audit line, and
// the activation body.
import { logFor } from "../context.ts";
import type { FastifyRequest } from "fastify";
import type { PspCapabilities } from "../../actors/policy/core/schemas.ts";
import { validatePolicy, type PolicyProblem } from "../../actors/policy/core/validate.ts";
import { PolicyStoreError, type Activation, type ActivationGuard } from "../../actors/policy/store.ts";
import type { PolicyKind } from "../../actors/policy/core/schemas.ts";
import { ApiError, storeCall } from "../errors.ts";
import type { AuditLog } from "../../streams/audit-log.ts";

export const OPS_TAGS = ["operators"];
export const OPS_SECURITY = [{ operatorKey: [] }];

/** A policy store operation: its refusals keep their code, an unreachable store is 503 (logged here). */
export function policyStoreCall<T>(req: FastifyRequest, fn: () => Promise<T>): Promise<T> {
  return storeCall(fn, {
    unavailable: "the policy store cannot be reached right now; retry later",
    refusal: (err) => (err instanceof PolicyStoreError ? err : undefined),
    log: (err) => logFor(req).error({ err }, "policy store call failed"),
  });
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
 * Every change an operator makes is recorded before it is made: one log line with their name (never
 * their key), and one record in the append-only AUDIT stream (GET /ops/audit). A record the stream
 * does not take refuses the change with 503 audit_unavailable, so the trail is as durable as the
 * changes it lists. Call it once the request is checked and before anything changes (or use
 * `audited`, which also records a change that then fails).
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
    logFor(req).error({ err, audit: action }, "audit record not stored: the change is refused");
    throw new ApiError(
      "audit_unavailable",
      "the audit trail cannot record this change right now, so it was not made; retry later",
      { action },
      { cause: err },
    );
  }
}

/**
 * An operator's change, audited: its record first (no record, no change), then the change. A change
 * that fails after its record was stored gets a second record, `<action>.failed` with the error's
 * code, so the trail never claims a change that was not made (that one is best effort: the change
 * did not go through). What only the change knows (a version, a key id) is in the route's answer and log.
 */
export async function audited<T>(
  req: FastifyRequest,
  action: string,
  fields: Record<string, unknown>,
  message: string,
  change: () => Promise<T>,
): Promise<T> {
  await audit(req, action, fields, message);
  try {
    return await change();
  } catch (err) {
    const code = err instanceof ApiError ? err.code : "internal_error";
    const failed = `${action}.failed`;
    logFor(req).info({ audit: failed, operator: req.operator, ...fields, error: code }, `${message}: failed`);
    await req.auditLog
      ?.append({
        v: 1,
        at: new Date().toISOString(),
        actor: req.operator,
        action: failed,
        message: `${message}: failed (${code})`,
        fields: { ...fields, error: code },
      })
      .catch((e: unknown) => logFor(req).error({ err: e, audit: failed }, "audit record not stored"));
    throw err;
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
