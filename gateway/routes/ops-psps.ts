// The operator routes of PSPs under /ops/psps: each configured PSP's capabilities, its rotation
// (operators force one out of routing and back in) and its health as the live workers report it,
// per worker and merged. Forcing out or in is audited (psp.out, psp.in) before it is made.
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import type { PspHealthReport, WorkerReport } from "../../actors/policy/core/reports.ts";
import type { PspCapabilities } from "../../actors/policy/core/schemas.ts";
import type { Rotation } from "../../streams/policy-store.ts";
import { emptyBodyAsObject } from "../context.ts";
import type { OpsDeps } from "../deps.ts";
import { ApiError } from "../errors.ts";
import { PspListResponse, PspParams, PspRotationResponse, RotationBody } from "../ops-schemas.ts";
import { BODY_ERRORS, errorResponses, OPERATOR_ERRORS, OPTIONAL_BODY } from "./docs.ts";
import { audited, OPS_SECURITY as security, OPS_TAGS as tags, policyStoreCall } from "./ops-common.ts";

const CIRCUIT_RANK: Record<PspHealthReport["circuit"], number> = { closed: 0, half_open: 1, open: 2 };

export const opsPspRoutes: FastifyPluginCallbackZod<OpsDeps> = (app, ops, done) => {
  app.get(
    "/psps",
    {
      schema: {
        summary: "Every configured PSP: capabilities, rotation and health",
        description:
          "Health is merged from the reports of the live workers: the worst circuit state any of " +
          "them sees, and success and failure rates weighted by each worker's samples.",
        tags,
        security,
        response: { 200: PspListResponse, ...errorResponses(OPERATOR_ERRORS) },
      },
    },
    async (req, reply) => {
      const [rotations, reports] = await policyStoreCall(req, () =>
        Promise.all([ops.store.rotations(), ops.board.read()]),
      );
      const psps = [...ops.capabilities].map(([name, caps]) => ({
        name,
        capabilities: capabilitiesBody(caps),
        rotation: rotationBody(rotations.get(name)),
        health: mergeHealth(name, reports),
      }));
      return reply.send({ psps });
    },
  );

  for (const direction of ["out", "in"] as const) {
    app.post(
      `/psps/:psp/${direction}`,
      {
        preValidation: emptyBodyAsObject,
        schema: {
          summary: direction === "out" ? "Force a PSP out of routing" : "Put a PSP back into routing",
          description:
            direction === "out"
              ? "Workers stop routing to it at once, whatever its circuit says, until it is put back in."
              : "Workers route to it again (its circuit still applies).",
          tags,
          security,
          params: PspParams,
          body: RotationBody,
          [OPTIONAL_BODY]: true,
          response: {
            200: PspRotationResponse,
            ...errorResponses(OPERATOR_ERRORS, BODY_ERRORS, "psp_not_found", "audit_unavailable"),
          },
        },
      },
      async (req, reply) => {
        const { psp } = req.params;
        if (!ops.capabilities.has(psp))
          throw new ApiError("psp_not_found", `no PSP named ${psp} is configured`);
        const { reason } = req.body;
        const rotation = await audited(
          req,
          `psp.${direction}`,
          { psp, reason: reason ?? null },
          direction === "out" ? "PSP forced out of rotation" : "PSP put back into rotation",
          () =>
            policyStoreCall(req, () =>
              ops.store.setRotation(psp, direction === "in", {
                by: req.operator,
                ...(reason !== undefined && { reason }),
              }),
            ),
        );
        return reply.send({ psp, rotation: rotationBody(rotation) });
      },
    );
  }

  done();
};

function capabilitiesBody(c: PspCapabilities) {
  return {
    currencies: [...c.currencies],
    brands: [...c.brands],
    three_ds: c.threeDs,
    partial_capture: c.partialCapture,
    refunds: c.refunds,
  };
}

function rotationBody(r: Rotation | undefined) {
  return { in: r?.in ?? true, at: r?.at ?? null, reason: r?.reason ?? null, by: r?.by ?? null };
}

/** One PSP's health across workers: worst circuit, rates weighted by samples. */
export function mergeHealth(psp: string, reports: readonly WorkerReport[]) {
  const workers = reports.flatMap((r) =>
    r.psps.filter((h) => h.psp === psp).map((h) => ({ workerId: r.workerId, at: r.at, h })),
  );
  let circuit: PspHealthReport["circuit"] | null = null;
  let samples = 0;
  let successes = 0;
  let failures = 0;
  let rated = 0;
  for (const { h } of workers) {
    if (circuit === null || CIRCUIT_RANK[h.circuit] > CIRCUIT_RANK[circuit]) circuit = h.circuit;
    samples += h.samples;
    if (h.samples > 0 && h.successRate !== null) {
      successes += h.successRate * h.samples;
      failures += (h.failureRate ?? 0) * h.samples;
      rated += h.samples;
    }
  }
  return {
    circuit,
    success_rate: rated > 0 ? successes / rated : null,
    failure_rate: rated > 0 ? failures / rated : null,
    samples,
    workers: workers.map(({ workerId, at, h }) => ({
      worker_id: workerId,
      reported_at: at,
      circuit: h.circuit,
      success_rate: h.successRate,
      failure_rate: h.failureRate,
      samples: h.samples,
      consecutive_failures: h.consecutiveFailures,
      latency_ms: { p50: h.latencyMs.p50, p95: h.latencyMs.p95 },
      circuit_since: h.circuitSince,
      retry_at: h.retryAt,
    })),
  };
}
