// The operator routes of policies under /ops/policies: upload (validated, never activated), list,
// read, diff, activate, rollback; the shadow routing version is in ops-shadow.ts. Every change is
// logged with the operator's name. Store refusals keep their code (policy_version_not_found, no_previous_version,
// ...) through the gateway's error table; a store that cannot be reached is 503.
import jsonPatch from "fast-json-patch";
import { validatorCompiler, type FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { POLICY_KINDS, type PolicyDocument, type PolicyKind } from "../../actors/policy/core/schemas.ts";
import { validatePolicy, type PolicyProblem } from "../../actors/policy/core/validate.ts";
import type { OpsDeps } from "../deps.ts";
import { logFor } from "../context.ts";
import { ApiError } from "../errors.ts";
import {
  ActivationResponse,
  DiffQuery,
  DiffResponse,
  KindParams,
  PolicySummaryResponse,
  UploadBody,
  UploadQuery,
  UploadResponse,
  VersionListResponse,
  VersionParams,
  VersionResponse,
} from "../ops-schemas.ts";
import { BODY_ERRORS, errorResponses, OPERATOR_ERRORS } from "./docs.ts";
import {
  activationBody,
  activationGuard,
  audited,
  OPS_SECURITY as security,
  OPS_TAGS as tags,
  problemSummary,
  policyStoreCall,
} from "./ops-common.ts";

export const opsPolicyRoutes: FastifyPluginCallbackZod<OpsDeps> = (app, ops, done) => {
  const stillValid = activationGuard(ops.capabilities);

  app.get(
    "/policies",
    {
      schema: {
        summary: "The active version of each policy kind",
        tags,
        security,
        response: { 200: PolicySummaryResponse, ...errorResponses(OPERATOR_ERRORS) },
      },
    },
    async (req, reply) => {
      const summaries = await policyStoreCall(req, async () => {
        const shadow = await ops.store.shadowSetting();
        return Promise.all(
          POLICY_KINDS.map(async (kind) => {
            const [active, versions] = await Promise.all([
              ops.store.activeVersion(kind),
              ops.store.list(kind),
            ]);
            return {
              kind,
              active_version: active?.version ?? null,
              activated_at: active?.at ?? null,
              activated_by: active?.by ?? null,
              versions: versions.length,
              shadow_version: kind === "routing" ? (shadow?.version ?? null) : null,
            };
          }),
        );
      });
      return reply.send({ policies: summaries });
    },
  );

  app.get(
    "/policies/:kind",
    {
      schema: {
        summary: "Every stored version of a policy kind",
        tags,
        security,
        params: KindParams,
        response: { 200: VersionListResponse, ...errorResponses(OPERATOR_ERRORS, "validation_error") },
      },
    },
    async (req, reply) => {
      const { kind } = req.params;
      const [versions, activations] = await policyStoreCall(req, () =>
        Promise.all([ops.store.list(kind), ops.store.activations(kind)]),
      );
      return reply.send({
        kind,
        active_version: versions.find((v) => v.active)?.version ?? activations.at(-1)?.version ?? null,
        shadow_version: versions.find((v) => v.shadow)?.version ?? null,
        versions: versions.map((v) => ({
          version: v.version,
          uploaded_at: v.uploadedAt,
          uploaded_by: v.uploadedBy ?? null,
          comment: v.comment ?? null,
          active: v.active,
          shadow: v.shadow,
        })),
        activations: activations.map((a) => activationBody(kind, a)),
      });
    },
  );

  app.post(
    "/policies/:kind",
    {
      // The body is checked by validatePolicy, which reports every problem at once (400
      // invalid_policy); the schema only documents it.
      validatorCompiler: (route) =>
        route.httpPart === "body"
          ? (data: unknown) => ({ value: data })
          : validatorCompiler(route as unknown as Parameters<typeof validatorCompiler>[0]),
      schema: {
        summary: "Upload a new version of a policy",
        description:
          "Validates the document against its schema and the configured PSPs and stores it as the " +
          "next version. It does not activate it. Invalid: 400 invalid_policy with every problem in " +
          "details.problems ({path, code, message}, path a JSON path like $.rules[2].then.psps[0]).",
        tags,
        security,
        params: KindParams,
        querystring: UploadQuery,
        body: UploadBody,
        response: {
          201: UploadResponse,
          ...errorResponses(OPERATOR_ERRORS, BODY_ERRORS, "invalid_policy", "audit_unavailable"),
        },
      },
    },
    async (req, reply) => {
      const { kind } = req.params;
      const body = req.body as unknown;
      const bodyKind =
        typeof body === "object" && body !== null ? (body as { kind?: unknown }).kind : undefined;
      if (bodyKind !== kind) {
        throw invalidPolicy(kind, [
          {
            path: "$.kind",
            code: "kind_mismatch",
            message: `the document's kind must be "${kind}", as in the URL`,
          },
        ]);
      }
      const result = validatePolicy(body, { capabilities: ops.capabilities });
      if (!result.ok) throw invalidPolicy(kind, result.problems);
      const comment = req.query.comment;
      // The version number is drawn by the store: it is in the answer and in the version's record.
      const version = await audited(
        req,
        "policy.upload",
        { kind, comment: comment || null },
        "policy version uploaded",
        () =>
          policyStoreCall(req, () =>
            ops.store.upload(kind, result.policy, {
              uploadedBy: req.operator,
              ...(comment !== undefined && comment !== "" && { comment }),
            }),
          ),
      );
      logFor(req).info({ kind, version }, "policy version stored");
      return reply.code(201).send({ kind, version, active: false as const });
    },
  );

  app.get(
    "/policies/:kind/diff",
    {
      schema: {
        summary: "What changed between two versions (RFC 6902 JSON Patch)",
        tags,
        security,
        params: KindParams,
        querystring: DiffQuery,
        response: {
          200: DiffResponse,
          ...errorResponses(OPERATOR_ERRORS, "validation_error", "policy_version_not_found"),
        },
      },
    },
    async (req, reply) => {
      const { kind } = req.params;
      const { from, to } = req.query;
      const [a, b] = await policyStoreCall(req, () => Promise.all([mustGet(kind, from), mustGet(kind, to)]));
      const patch = jsonPatch.compare(a, b);
      return reply.send({ kind, from, to, patch });
    },
  );

  app.get(
    "/policies/:kind/versions/:version",
    {
      schema: {
        summary: "One stored version of a policy",
        tags,
        security,
        params: VersionParams,
        response: {
          200: VersionResponse,
          ...errorResponses(OPERATOR_ERRORS, "validation_error", "policy_version_not_found"),
        },
      },
    },
    async (req, reply) => {
      const { kind, version } = req.params;
      const [record, versions] = await policyStoreCall(req, () =>
        Promise.all([ops.store.get(kind, version), ops.store.list(kind)]),
      );
      const info = versions.find((v) => v.version === version);
      if (!record || !info) throw versionNotFound(kind, version);
      return reply.send({
        kind,
        version,
        uploaded_at: record.uploadedAt,
        uploaded_by: record.uploadedBy ?? null,
        comment: record.comment ?? null,
        active: info.active,
        shadow: info.shadow,
        document: record.document,
      });
    },
  );

  app.post(
    "/policies/:kind/versions/:version/activate",
    {
      schema: {
        summary: "Activate a stored version",
        description:
          "Re-validated against the PSPs configured now: a version naming a PSP that is gone is " +
          "refused with 409 policy_not_activatable (details.problems). Activating the active " +
          "version changes nothing.",
        tags,
        security,
        params: VersionParams,
        response: {
          200: ActivationResponse,
          ...errorResponses(
            OPERATOR_ERRORS,
            "validation_error",
            "policy_version_not_found",
            "policy_not_activatable",
            "audit_unavailable",
          ),
        },
      },
    },
    async (req, reply) => {
      const { kind, version } = req.params;
      const activation = await audited(
        req,
        "policy.activate",
        { kind, version },
        "policy version activated",
        () =>
          policyStoreCall(req, () =>
            ops.store.activate(kind, version, { by: req.operator, guard: stillValid }),
          ),
      );
      return reply.send(activationBody(kind, activation));
    },
  );

  app.post(
    "/policies/:kind/rollback",
    {
      schema: {
        summary: "Activate the version that was active before the current one",
        description:
          "Walks back through the activation log: after activating 1, 2, 3, rollback activates 2, " +
          "then 1, then answers 409 no_previous_version. The target is re-validated like an activation.",
        tags,
        security,
        params: KindParams,
        response: {
          200: ActivationResponse,
          ...errorResponses(
            OPERATOR_ERRORS,
            "validation_error",
            "no_previous_version",
            "policy_not_activatable",
            "audit_unavailable",
          ),
        },
      },
    },
    async (req, reply) => {
      const { kind } = req.params;
      // The version it goes back to is decided by the store (the activation log names it and who).
      const activation = await audited(req, "policy.rollback", { kind }, "policy rolled back", () =>
        policyStoreCall(req, () => ops.store.rollback(kind, { by: req.operator, guard: stillValid })),
      );
      logFor(req).info({ kind, version: activation.version }, "policy rolled back to this version");
      return reply.send(activationBody(kind, activation));
    },
  );

  async function mustGet(kind: PolicyKind, version: number): Promise<PolicyDocument> {
    const record = await ops.store.get(kind, version);
    if (!record) throw versionNotFound(kind, version);
    return record.document;
  }

  done();
};

function invalidPolicy(kind: PolicyKind, problems: PolicyProblem[]): ApiError {
  return new ApiError("invalid_policy", `the ${kind} policy is invalid: ${problemSummary(problems)}`, {
    problems,
  });
}

function versionNotFound(kind: PolicyKind, version: number): ApiError {
  return new ApiError("policy_version_not_found", `${kind} has no version ${version}`);
}
