// What the settlement stream (SETTLE) holds: an ingested report as chunks of reconciled lines, then
// one message saying the report is complete. The record of what each PSP reported and what
// reconciliation concluded; the read models (store.ts) are its projection. Versioned.
import type { RejectedLine, SettlementLine } from "./core/line.ts";
import type { MatchedOperation, ReconException, Resolution } from "./core/exceptions.ts";
import type { Outcome } from "./core/match.ts";

export type ChunkRecord = {
  type: "chunk";
  v: 1;
  psp: string;
  reportId: string;
  chunkNo: number;
  lines: Array<{
    line: SettlementLine;
    outcome: Outcome;
    operation: MatchedOperation | null;
    exception: ReconException | null;
  }>;
  rejected: RejectedLine[];
};

export type ReportSummary = {
  psp: string;
  reportId: string;
  sha256: string;
  lines: number;
  matched: number;
  exceptions: number;
  rejected: number;
};

export type ReportRecord = ReportSummary & {
  type: "report";
  v: 1;
  source: "pull" | "upload";
  operator: string | null;
  at: string;
};

export type SettleRecord = ChunkRecord | ReportRecord;

/** RECON: an operator's resolution, or an exception the missing-line sweep opened. */
export type ReconRecord =
  | { type: "resolution"; v: 1; resolution: Resolution; exception: ReconException }
  | { type: "missing"; v: 1; exception: ReconException };
