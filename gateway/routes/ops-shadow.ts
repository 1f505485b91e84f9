// The shadow routing version under /ops/policies/routing/shadow: set one, read how it compares
// with the active version (merged from the workers' reports on the ops board), promote it, drop it.
// Static paths: registered beside /ops/policies/:kind, which they are not a sub-resource of.
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import type { WorkerReport } from "../../actors/policy/core/reports.ts";
import type { ShadowSetting } from "../../streams/policy-store.ts";
import type { OpsDeps } from "../deps.ts";
import { ApiError } from "../errors.ts";
import {
  ActivationResponse,
  ShadowBody,
  ShadowSettingResponse,
  ShadowSummaryResponse,
} from "../ops-schemas.ts";
import { BODY_ERRORS, errorResponses, OPERATOR_ERRORS } from "./docs.ts";
import {
  activationBody,
  activationGuard,
  audited,
  OPS_SECURITY as security,
  OPS_TAGS as tags,
  policyStoreCall,
} from "./ops-common.ts";

const MAX_SHADOW_SAMPLES = 20;

export const opsShadowRoutes: FastifyPluginCallbackZod<OpsDeps> = (app, ops, done) => {
  const stillValid = activationGuard(ops.capabilities);

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
        response: { 200: ShadowSummaryResponse, ...errorResponses(OPERATOR_ERRORS) },
      },
    },
    async (req, reply) => {
      const [setting, reports] = await policyStoreCall(req, () =>
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
        response: {
          200: ShadowSettingResponse,
          ...errorResponses(
            OPERATOR_ERRORS,
            BODY_ERRORS,
            "policy_version_not_found",
            "shadow_is_active",
            "policy_not_activatable",
            "audit_unavailable",
          ),
        },
      },
    },
    async (req, reply) => {
      const setting = await audited(
        req,
        "shadow.set",
        { kind: "routing", version: req.body.version },
        "shadow routing version set",
        () =>
          policyStoreCall(req, () =>
            ops.store.setShadow(req.body.version, { by: req.operator, guard: stillValid }),
          ),
      );
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
        response: { 200: ShadowSettingResponse, ...errorResponses(OPERATOR_ERRORS, "audit_unavailable") },
      },
    },
    async (req, reply) => {
      const before = await policyStoreCall(req, () => ops.store.shadowSetting());
      await audited(
        req,
        "shadow.clear",
        { kind: "routing", version: before?.version ?? null },
        "shadow cleared",
        () => policyStoreCall(req, () => ops.store.setShadow(null, { by: req.operator })),
      );
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
        response: {
          200: ActivationResponse,
          ...errorResponses(
            OPERATOR_ERRORS,
            "no_shadow_version",
            "policy_not_activatable",
            "audit_unavailable",
          ),
        },
      },
    },
    async (req, reply) => {
      // The version in shadow now (the store re-reads it to promote; the answer names what it activated).
      const shadow = await policyStoreCall(req, () => ops.store.shadowSetting());
      if (!shadow) throw new ApiError("no_shadow_version", "no routing version is in shadow");
      const activation = await audited(
        req,
        "shadow.promote",
        { kind: "routing", version: shadow.version },
        "shadow promoted",
        () => policyStoreCall(req, () => ops.store.promoteShadow({ by: req.operator, guard: stillValid })),
      );
      return reply.send(activationBody("routing", activation));
    },
  );

  done();
};

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
