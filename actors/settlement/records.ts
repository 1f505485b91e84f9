// What the settlement stream (SETTLE) holds: an ingested report as chunks of reconciled lines, then
// one message saying the report is complete. The record of what each PSP reported and what
// reconciliation concluded; the read models (store.ts) are its projection. Versioned: each schema
// here is registered (gateway/contract/registry.ts), so a field is only ever added as optional.
import { z } from "zod";
import { RejectedLine, SettlementLine } from "./core/line.ts";
import { MatchedOperation, ReconException, Resolution } from "./core/exceptions.ts";
import { Outcome } from "./core/match.ts";

export const ChunkRecord = z.object({
  type: z.literal("chunk"),
  v: z.literal(1),
  psp: z.string(),
  reportId: z.string(),
  chunkNo: z.number().int().nonnegative(),
  lines: z.array(
    z.object({
      line: SettlementLine,
      outcome: Outcome,
      operation: MatchedOperation.nullable(),
      exception: ReconException.nullable(),
    }),
  ),
  rejected: z.array(RejectedLine),
});
export type ChunkRecord = z.infer<typeof ChunkRecord>;

const summary = {
  psp: z.string(),
  reportId: z.string(),
  sha256: z.string(),
  lines: z.number().int().nonnegative(),
  matched: z.number().int().nonnegative(),
  exceptions: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
};
export const ReportSummary = z.object(summary);
export type ReportSummary = z.infer<typeof ReportSummary>;

export const ReportRecord = z.object({
  ...summary,
  type: z.literal("report"),
  v: z.literal(1),
  source: z.enum(["pull", "upload"]),
  operator: z.string().nullable(),
  at: z.string(),
});
export type ReportRecord = z.infer<typeof ReportRecord>;

export const SettleRecord = z.discriminatedUnion("type", [ChunkRecord, ReportRecord]);
export type SettleRecord = z.infer<typeof SettleRecord>;

/** RECON: an operator's resolution, or an exception the missing-line sweep opened. */
export const ReconRecord = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("resolution"),
    v: z.literal(1),
    resolution: Resolution,
    exception: ReconException,
  }),
  z.object({ type: z.literal("missing"), v: z.literal(1), exception: ReconException }),
]);
export type ReconRecord = z.infer<typeof ReconRecord>;
