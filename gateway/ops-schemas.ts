// The zod schemas of the operator API (/ops/*): parameters, bodies and responses. Like
// gateway/schemas.ts they validate, shape responses and are the source of /openapi.json.
import { z } from "zod";
import { POLICY_KINDS, PolicyDocument, PspName, type PolicyKind } from "../actors/policy/core/schemas.ts";

export const KindEnum = z
  .enum(POLICY_KINDS as [PolicyKind, ...PolicyKind[]])
  .describe("The policy kind: routing, fees or retries.");

const VersionNumber = z.coerce.number().int().min(1).max(1_000_000_000);
const Timestamp = z.string().describe("ISO 8601, UTC");
const Operator = z.string().nullable().describe("The operator's name (from SWITCHYARD_OPERATOR_KEYS).");

export const KindParams = z.object({ kind: KindEnum });
export const VersionParams = z.object({
  kind: KindEnum,
  version: VersionNumber.describe("A version number."),
});
export const PspParams = z.object({ psp: PspName });

export const UploadQuery = z.object({
  comment: z.string().max(500).optional().describe("Why this version exists; kept with it."),
});

/**
 * Documents the upload body as the policy document union. The route validates it itself (with
 * validatePolicy, reporting every problem at once as invalid_policy), not through this schema.
 */
export const UploadBody = PolicyDocument.describe(
  "A routing, fees or retries policy document whose `kind` is the URL's. Checked as a whole: " +
    "every problem is listed in the 400 invalid_policy answer's details.problems.",
);

export const DiffQuery = z.object({
  from: VersionNumber.describe("The version to diff from."),
  to: VersionNumber.describe("The version to diff to."),
});

export const ShadowBody = z.strictObject({
  version: z.number().int().min(1).describe("A stored routing version other than the active one."),
});

export const RotationBody = z.strictObject({
  reason: z.string().max(500).optional().describe("Why; shown on GET /ops/psps and in the logs."),
});

// ---------------------------------------------------------------------------------------------
// Responses

export const PolicySummaryResponse = z.object({
  policies: z.array(
    z.object({
      kind: KindEnum,
      active_version: z.number().int().nullable(),
      activated_at: Timestamp.nullable(),
      activated_by: Operator,
      versions: z.number().int().describe("How many versions are stored."),
      shadow_version: z.number().int().nullable().describe("Routing only: the version evaluated in shadow."),
    }),
  ),
});

const VersionMetaResponse = z.object({
  version: z.number().int(),
  uploaded_at: Timestamp,
  uploaded_by: Operator,
  comment: z.string().nullable(),
  active: z.boolean(),
  shadow: z.boolean(),
});

export const ActivationResponse = z.object({
  kind: KindEnum,
  version: z.number().int().describe("The version active now."),
  op: z.enum(["seed", "activate", "rollback", "promote"]),
  activated_at: Timestamp,
  activated_by: Operator,
});

export const VersionListResponse = z.object({
  kind: KindEnum,
  active_version: z.number().int().nullable(),
  shadow_version: z.number().int().nullable(),
  versions: z.array(VersionMetaResponse).describe("Oldest first."),
  activations: z
    .array(ActivationResponse.omit({ kind: true }))
    .describe("The activation log, oldest first (the last 64)."),
});

export const UploadResponse = z.object({
  kind: KindEnum,
  version: z.number().int(),
  active: z.literal(false).describe("Uploading never activates."),
});

export const VersionResponse = VersionMetaResponse.extend({
  kind: KindEnum,
  document: z.record(z.string(), z.unknown()).describe("The stored document, defaults filled in."),
});

export const DiffResponse = z.object({
  kind: KindEnum,
  from: z.number().int(),
  to: z.number().int(),
  patch: z
    .array(
      z.object({
        op: z.enum(["add", "remove", "replace", "move", "copy", "test", "_get"]),
        path: z.string(),
        value: z.unknown().optional(),
        from: z.string().optional(),
      }),
    )
    .describe("RFC 6902 JSON Patch turning version `from` into version `to`."),
});

export const ShadowSettingResponse = z.object({
  version: z.number().int().nullable().describe("The shadow routing version; null when none."),
  set_at: Timestamp.nullable(),
  set_by: Operator,
});

const RouteChoice = z.object({
  psp: z.string().nullable(),
  expected_fee: z.number().int().nullable(),
  rule_id: z.string().nullable(),
});

export const ShadowSummaryResponse = z.object({
  version: z.number().int().nullable().describe("The shadow routing version; null when none."),
  workers: z.number().int().describe("Workers whose reports count towards these numbers."),
  decisions: z.number().int(),
  diverged_psp: z.number().int(),
  diverged_fee: z.number().int(),
  divergence_rate: z.number().nullable().describe("diverged_psp / decisions; null without decisions."),
  samples: z
    .array(
      z.object({
        worker_id: z.string(),
        payment_id: z.string(),
        at: Timestamp,
        active: RouteChoice,
        shadow: RouteChoice,
      }),
    )
    .describe("The most recent diverging payments, newest first, at most 20."),
});

const Circuit = z.enum(["closed", "open", "half_open"]);

const WorkerHealth = z.object({
  worker_id: z.string(),
  reported_at: Timestamp,
  circuit: Circuit,
  success_rate: z.number().nullable(),
  failure_rate: z.number().nullable(),
  samples: z.number().int(),
  consecutive_failures: z.number().int(),
  latency_ms: z.object({ p50: z.number().nullable(), p95: z.number().nullable() }),
  circuit_since: Timestamp.nullable(),
  retry_at: Timestamp.nullable(),
});

export const RotationResponse = z.object({
  in: z.boolean().describe("false: forced out of routing by an operator."),
  at: Timestamp.nullable().describe("When an operator last changed it; null if never."),
  reason: z.string().nullable(),
  by: Operator,
});

export const PspResponse = z.object({
  name: z.string(),
  capabilities: z.object({
    currencies: z.array(z.string()),
    brands: z.array(z.string()),
    three_ds: z.boolean(),
    partial_capture: z.boolean(),
    refunds: z.boolean(),
  }),
  rotation: RotationResponse,
  health: z.object({
    circuit: Circuit.nullable().describe("The worst state any worker reports; null without reports."),
    success_rate: z.number().nullable().describe("Weighted by each worker's samples."),
    failure_rate: z.number().nullable().describe("Weighted by each worker's samples."),
    samples: z.number().int(),
    workers: z.array(WorkerHealth),
  }),
});

export const PspListResponse = z.object({ psps: z.array(PspResponse) });

export const PspRotationResponse = z.object({ psp: z.string(), rotation: RotationResponse });
