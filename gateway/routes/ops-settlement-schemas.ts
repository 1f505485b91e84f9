// The request and response shapes of the settlement and reconciliation routes (ops-settlement.ts).
import { z } from "zod";
import { ExceptionKind, ResolutionKind } from "../../actors/settlement/core/exceptions.ts";

export { PspParams } from "../ops-schemas.ts";
export const UploadQuery = z.strictObject({
  report_id: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,128}$/)
    .optional()
    .describe("The PSP's id of the report; default: derived from the content's SHA-256."),
});
export const IngestResponse = z.object({
  report_id: z.string(),
  psp: z.string(),
  sha256: z.string(),
  lines: z.number().int().describe("Lines taken (matched + exceptions)."),
  matched: z.number().int().describe("Lines matched to their payment, or booked (fees, payouts)."),
  exceptions: z.number().int().describe("Lines that became reconciliation exceptions."),
  rejected: z
    .number()
    .int()
    .describe(
      "Lines not taken: unreadable, or already taken from an earlier report (the PSP's line id); see `rejects`.",
    ),
  replayed: z
    .boolean()
    .describe(
      "true: this report (its content) was ingested before, under `report_id` (the first id it was taken under); nothing changed.",
    ),
  rejects: z
    .array(z.object({ line_no: z.number().int(), reason: z.string() }))
    .describe("The first 100 rejected lines with their line number and reason."),
});

export const ExceptionBody = z.object({
  id: z.string(),
  kind: ExceptionKind,
  psp: z.string(),
  status: z.enum(["open", "resolved"]),
  payment_id: z.string().nullable(),
  report_id: z.string().nullable(),
  line_no: z.number().int().nullable(),
  currency: z.string().nullable(),
  amount: z.number().int().nullable(),
  detail: z.string(),
  opened_at: z.string(),
  resolution: z.string().nullable(),
  resolved_by: z.string().nullable(),
  resolved_at: z.string().nullable(),
  reason: z.string().nullable(),
});
export const ExceptionQuery = z.strictObject({
  status: z.enum(["open", "resolved"]).optional(),
  kind: ExceptionKind.optional(),
  psp: z.string().max(32).optional(),
  after: z.string().max(300).optional().describe("Cursor: list after this exception id."),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export const ResolveBody = z.strictObject({
  resolution: ResolutionKind,
  reason: z.string().trim().min(1).max(500),
  payment_id: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .optional(),
});
export const Period = z.strictObject({
  from: z.iso.datetime().describe("Inclusive."),
  to: z.iso.datetime().describe("Exclusive."),
  psp: z.string().max(32).optional(),
});
