// The operator routes of policies under /ops/policies: upload (validated, never activated), list,
// read, diff, activate, rollback, and the shadow routing version. Every change is logged with the
// operator's name. Store refusals keep their code (policy_version_not_found, no_previous_version,
// ...) through the gateway's error table; a store that cannot be reached is 503.
import type { FastifyRequest } from "fastify";
import jsonPatch from "fast-json-patch";
import { validatorCompiler, type FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import type { WorkerReport } from "../../actors/policy/reports.ts";
import { POLICY_KINDS, type PolicyDocument, type PolicyKind } from "../../actors/policy/schemas.ts";
import { validatePolicy, type PolicyProblem } from "../../actors/policy/validate.ts";
import {
  PolicyStoreError,
  type Activation,
  type ActivationGuard,
  type ShadowSetting,
} from "../../streams/policy-store.ts";
import type { OpsDeps } from "../deps.ts";
import { ApiError } from "../errors.ts";
import {
  ActivationResponse,
  DiffQuery,
  DiffResponse,
  KindParams,
  PolicySummaryResponse,
  ShadowBody,
  ShadowSettingResponse,
  ShadowSummaryResponse,
  UploadBody,
  UploadQuery,
  UploadResponse,
  VersionListResponse,
  VersionParams,
  VersionResponse,
} from "../ops-schemas.ts";
import { errorResponses } from "./docs.ts";

const MAX_SHADOW_SAMPLES = 20;

export const opsPolicyRoutes: FastifyPluginCallbackZod<OpsDeps> = (app, ops, done) => {
  const tags = ["operators"];
  const security = [{ operatorKey: [] }];

  /** Refuses a stored document that no longer validates against the PSPs configured now. */
  const stillValid: ActivationGuard = (document) => {
    const result = validatePolicy(document, { capabilities: ops.capabilities });
    if (!result.ok)
      throw new ApiError(
        "policy_not_activatable",
        `this ${document.kind} version is not valid with the PSPs configured now: ${summary(result.problems)}`,
        { problems: result.problems },
      );
  };

  function audit(req: FastifyRequest, action: string, fields: Record<string, unknown>, message: string) {
    req.log.info({ audit: action, operator: req.operator, ...fields }, message);
  }

  app.get(
    "/policies",
    {
      schema: {
        summary: "The active version of each policy kind",
        tags,
        security,
        response: { 200: PolicySummaryResponse, ...errorResponses(401, 403, 500, 503) },
      },
    },
    async (req, reply) => {
      const summaries = await storeCall(req, async () => {
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

  // Static before parametric: /ops/policies/routing/shadow is not a kind's sub-resource.
  app.get(
    "/policies/routing/shadow",
    {
      schema: {
        summary: "How the shadow routing version compares with the active one",
        description:
          "Merged from every live worker's report: counts of decisions and divergences for the shadow " +
          "version, and the most recent diverging payments (newest first, at most 20).",
        tags,
        security,
        response: { 200: ShadowSummaryResponse, ...errorResponses(401, 403, 500, 503) },
      },
    },
    async (req, reply) => {
      const [setting, reports] = await storeCall(req, () =>
        Promise.all([ops.store.shadowSetting(), ops.board.read()]),
      );
      return reply.send(shadowSummary(setting?.version ?? null, reports));
    },
  );

  app.put(
    "/policies/routing/shadow",
    {
      schema: {
        summary: "Evaluate a routing version in shadow",
        description:
          "Workers route with the active version and also evaluate this one, recording where they " +
          "differ. It must be a stored version, not the active one, valid with the PSPs configured now.",
        tags,
        security,
        body: ShadowBody,
        response: { 200: ShadowSettingResponse, ...errorResponses(400, 401, 403, 404, 409, 500, 503) },
      },
    },
    async (req, reply) => {
      const setting = await storeCall(req, () =>
        ops.store.setShadow(req.body.version, { by: req.operator, guard: stillValid }),
      );
      audit(req, "shadow.set", { kind: "routing", version: req.body.version }, "shadow routing version set");
      return reply.send(shadowSettingBody(setting));
    },
  );

  app.delete(
    "/policies/routing/shadow",
    {
      schema: {
        summary: "Stop the shadow evaluation",
        tags,
        security,
        response: { 200: ShadowSettingResponse, ...errorResponses(401, 403, 500, 503) },
      },
    },
    async (req, reply) => {
      const before = await storeCall(req, () => ops.store.shadowSetting());
      await storeCall(req, () => ops.store.setShadow(null, { by: req.operator }));
      audit(req, "shadow.clear", { kind: "routing", version: before?.version ?? null }, "shadow cleared");
      return reply.send(shadowSettingBody(undefined));
    },
  );

  app.post(
    "/policies/routing/shadow/promote",
    {
      schema: {
        summary: "Activate the shadow routing version",
        description: "Activates the shadow version (re-validated) and clears the shadow.",
        tags,
        security,
        response: { 200: ActivationResponse, ...errorResponses(401, 403, 409, 500, 503) },
      },
    },
    async (req, reply) => {
      const activation = await storeCall(req, () =>
        ops.store.promoteShadow({ by: req.operator, guard: stillValid }),
      );
      audit(req, "shadow.promote", { kind: "routing", version: activation.version }, "shadow promoted");
      return reply.send(activationBody("routing", activation));
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
        response: { 200: VersionListResponse, ...errorResponses(400, 401, 403, 500, 503) },
      },
    },
    async (req, reply) => {
      const { kind } = req.params;
      const [versions, activations] = await storeCall(req, () =>
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
        response: { 201: UploadResponse, ...errorResponses(400, 401, 403, 413, 415, 500, 503) },
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
      const version = await storeCall(req, () =>
        ops.store.upload(kind, result.policy, {
          uploadedBy: req.operator,
          ...(comment !== undefined && comment !== "" && { comment }),
        }),
      );
      audit(req, "policy.upload", { kind, version }, "policy version uploaded");
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
        response: { 200: DiffResponse, ...errorResponses(400, 401, 403, 404, 500, 503) },
      },
    },
    async (req, reply) => {
      const { kind } = req.params;
      const { from, to } = req.query;
      const [a, b] = await storeCall(req, () => Promise.all([mustGet(kind, from), mustGet(kind, to)]));
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
        response: { 200: VersionResponse, ...errorResponses(400, 401, 403, 404, 500, 503) },
      },
    },
    async (req, reply) => {
      const { kind, version } = req.params;
      const [record, versions] = await storeCall(req, () =>
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
        response: { 200: ActivationResponse, ...errorResponses(400, 401, 403, 404, 409, 500, 503) },
      },
    },
    async (req, reply) => {
      const { kind, version } = req.params;
      const activation = await storeCall(req, () =>
        ops.store.activate(kind, version, { by: req.operator, guard: stillValid }),
      );
      audit(req, "policy.activate", { kind, version }, "policy version activated");
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
        response: { 200: ActivationResponse, ...errorResponses(400, 401, 403, 409, 500, 503) },
      },
    },
    async (req, reply) => {
      const { kind } = req.params;
      const activation = await storeCall(req, () =>
        ops.store.rollback(kind, { by: req.operator, guard: stillValid }),
      );
      audit(req, "policy.rollback", { kind, version: activation.version }, "policy rolled back");
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

/** Runs a store operation: its refusals keep their code, an unreachable store is 503 (logged here). */
export async function storeCall<T>(req: FastifyRequest, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (err instanceof PolicyStoreError) throw new ApiError(err.code, err.message, {}, { cause: err });
    req.log.error({ err }, "policy store call failed");
    throw new ApiError(
      "service_unavailable",
      "the policy store cannot be reached right now; retry later",
      {},
      { cause: err },
    );
  }
}

function invalidPolicy(kind: PolicyKind, problems: PolicyProblem[]): ApiError {
  return new ApiError("invalid_policy", `the ${kind} policy is invalid: ${summary(problems)}`, { problems });
}

function summary(problems: readonly PolicyProblem[]): string {
  const first = problems[0];
  if (!first) return "no details";
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : "";
  return `${first.path}: ${first.message}${more}`;
}

function versionNotFound(kind: PolicyKind, version: number): ApiError {
  return new ApiError("policy_version_not_found", `${kind} has no version ${version}`);
}

function activationBody(kind: PolicyKind, a: Activation) {
  return { kind, version: a.version, op: a.op, activated_at: a.at, activated_by: a.by ?? null };
}

function shadowSettingBody(s: ShadowSetting | undefined) {
  return { version: s?.version ?? null, set_at: s?.at ?? null, set_by: s?.by ?? null };
}

/** The workers' shadow counts for `version`, summed; their samples merged, newest first. */
export function shadowSummary(version: number | null, reports: readonly WorkerReport[]) {
  let workers = 0;
  let decisions = 0;
  let divergedPsp = 0;
  let divergedFee = 0;
  const samples: Array<{ workerId: string; s: WorkerReport["shadow"][number]["samples"][number] }> = [];
  for (const report of reports)
    for (const shadow of report.shadow) {
      if (version === null || shadow.version !== version) continue;
      workers++;
      decisions += shadow.decisions;
      divergedPsp += shadow.divergedPsp;
      divergedFee += shadow.divergedFee;
      for (const s of shadow.samples) samples.push({ workerId: report.workerId, s });
    }
  samples.sort((a, b) => b.s.at.localeCompare(a.s.at));
  const choice = (c: { psp: string | null; expectedFee: number | null; ruleId: string | null }) => ({
    psp: c.psp,
    expected_fee: c.expectedFee,
    rule_id: c.ruleId,
  });
  return {
    version,
    workers,
    decisions,
    diverged_psp: divergedPsp,
    diverged_fee: divergedFee,
    divergence_rate: decisions > 0 ? divergedPsp / decisions : null,
    samples: samples.slice(0, MAX_SHADOW_SAMPLES).map(({ workerId, s }) => ({
      worker_id: workerId,
      payment_id: s.paymentId,
      at: s.at,
      active: choice(s.active),
      shadow: choice(s.shadow),
    })),
  };
}
