// Settlement ingest: a PSP's report streamed through its adapter's parser, reconciled line by line
// against the payments read model, recorded in SETTLE chunk by chunk (the record) and applied to the
// read models as it goes. Memory stays flat: one chunk at a time. Idempotent end to end:
// - the same report again (PSP report id and content hash) answers the first ingest's summary;
// - the same report id with other content is refused (a closed batch never changes);
// - a crash mid-way and a retry redo each chunk to the same result: the chunk's message id dedupes
//   the record, every row is written "on conflict do nothing", and a line that settled an operation
//   is recognised as itself, never as its own duplicate.
import type { JetStreamClient } from "@nats-io/jetstream";
import type { Readable } from "node:stream";
import type { Logger } from "../../config/log.ts";
import type { Metrics } from "../../config/metrics.ts";
import type { Sql } from "../../streams/db/client.ts";
import { encode } from "../../streams/envelopes.ts";
import { settleSubject, type Topology } from "../../streams/topology.ts";
import { PAYMENT_LINE_KINDS, type ParsedLine, type RejectedLine } from "./line.ts";
import { operationKey, reconcile, type Tolerance } from "./match.ts";
import type { ChunkRecord, ReportRecord, ReportSummary } from "./records.ts";
import { applyChunk, applyReport, findOperations, reportSummary } from "./store.ts";

export type ReportParser = (input: Readable, opts: { reportId: string }) => AsyncIterable<ParsedLine>;

export type IngestDeps = {
  js: JetStreamClient;
  topo: Topology;
  sql: Sql;
  log: Logger;
  metrics: Metrics;
  tolerance: Tolerance;
  now: () => Date;
  /** Lines per chunk (one SETTLE message, one transaction). */
  chunkLines?: number;
};

export type IngestRequest = {
  psp: string;
  reportId: string;
  /** SHA-256 (hex) of the whole report as received. */
  sha256: string;
  input: Readable;
  parse: ReportParser;
  source: "pull" | "upload";
  operator: string | null;
};

/** The first rejected lines of an ingest (all of them are in the read model's settlement_rejects). */
export const REJECTS_SHOWN = 100;

export type IngestResult = ReportSummary & { replayed: boolean; rejects: RejectedLine[] };

export class ReportConflictError extends Error {
  override name = "ReportConflictError";
}

const CHUNK_LINES = 400;

export async function ingestReport(d: IngestDeps, req: IngestRequest): Promise<IngestResult> {
  const earlier = await reportSummary(d.sql, req.psp, req.reportId);
  if (earlier) {
    if (earlier.sha256 !== req.sha256)
      throw new ReportConflictError(
        `report ${req.reportId} of ${req.psp} was ingested before with other content (sha256 ${earlier.sha256})`,
      );
    req.input.resume();
    return { ...earlier, replayed: true, rejects: [] };
  }
  const started = performance.now();
  const subject = settleSubject(d.topo, req.psp, req.reportId);
  const totals = { lines: 0, matched: 0, exceptions: 0, rejected: 0 };
  const rejects: RejectedLine[] = [];
  const max = d.chunkLines ?? CHUNK_LINES;
  let chunkNo = 0;
  let pending: ParsedLine[] = [];
  // Two chunks in flight: the next one is parsed and reconciled while the previous one is recorded
  // (SETTLE, then PostgreSQL). Records stay in order: a chunk is recorded only after the one before.
  // Operations the chunk being recorded settles are not in the read model yet: `recent` carries
  // them into the next chunk's reconciliation, so a duplicate across the two is still one.
  let recording: Promise<void> = Promise.resolve();
  let recent: ReadonlySet<string> = new Set();
  const record = async (chunk: ChunkRecord) => {
    await publish(d, subject, chunk, `${req.psp}:${req.reportId}:${chunk.chunkNo}`);
    await d.sql.begin((tx) => applyChunk(tx, chunk));
    const outcomes = new Map<string, number>();
    for (const l of chunk.lines) {
      totals.lines++;
      if (l.outcome === "matched" || l.outcome === "booked") totals.matched++;
      else totals.exceptions++;
      outcomes.set(l.outcome, (outcomes.get(l.outcome) ?? 0) + 1);
    }
    if (chunk.rejected.length > 0) outcomes.set("rejected", chunk.rejected.length);
    for (const [outcome, n] of outcomes) d.metrics.settlementLines.inc({ psp: req.psp, outcome }, n);
    totals.rejected += chunk.rejected.length;
    rejects.push(...chunk.rejected.slice(0, REJECTS_SHOWN - rejects.length));
  };
  const flush = async () => {
    const { chunk, settled } = await reconcileChunk(d, req.psp, req.reportId, ++chunkNo, pending, recent);
    pending = [];
    await recording;
    recent = settled;
    recording = record(chunk);
    // Surfaces a failed recording at the next flush (or the final await) and never leaves it unhandled.
    recording.catch(() => undefined);
  };
  for await (const parsed of req.parse(req.input, { reportId: req.reportId })) {
    pending.push(parsed);
    if (pending.length >= max) await flush();
  }
  if (pending.length > 0 || chunkNo === 0) await flush();
  await recording;
  const closing: ReportRecord = {
    type: "report",
    v: 1,
    psp: req.psp,
    reportId: req.reportId,
    sha256: req.sha256,
    ...totals,
    source: req.source,
    operator: req.operator,
    at: d.now().toISOString(),
  };
  await publish(d, subject, closing, `${req.psp}:${req.reportId}:report`);
  await d.sql.begin((tx) => applyReport(tx, closing));
  d.log.info(
    {
      psp: req.psp,
      reportId: req.reportId,
      ...totals,
      source: req.source,
      operator: req.operator,
      ms: Math.round(performance.now() - started),
    },
    "settlement report ingested",
  );
  return { psp: req.psp, reportId: req.reportId, sha256: req.sha256, ...totals, replayed: false, rejects };
}

async function reconcileChunk(
  d: IngestDeps,
  psp: string,
  reportId: string,
  chunkNo: number,
  parsed: readonly ParsedLine[],
  recent: ReadonlySet<string>,
): Promise<{ chunk: ChunkRecord; settled: ReadonlySet<string> }> {
  const rejected: RejectedLine[] = [];
  const keys = new Map<string, { kind: string; pspReference: string }>();
  for (const p of parsed) {
    if (!p.ok) rejected.push(p.rejected);
    else if (PAYMENT_LINE_KINDS.has(p.line.kind) && p.line.pspReference !== null)
      keys.set(operationKey(psp, p.line.kind, p.line.pspReference), {
        kind: p.line.kind,
        pspReference: p.line.pspReference,
      });
  }
  const known = await findOperations(d.sql, psp, [...keys.values()]);
  const seen = new Set<string>(recent);
  const settled = new Set<string>();
  const now = d.now().toISOString();
  const lines: ChunkRecord["lines"] = [];
  for (const p of parsed) {
    if (!p.ok) continue;
    const line = p.line;
    const key = line.pspReference === null ? undefined : operationKey(psp, line.kind, line.pspReference);
    const found = key === undefined ? undefined : known.get(key);
    const result = reconcile(line, found, seen, d.tolerance, now);
    if (result.outcome === "matched" && key !== undefined) {
      seen.add(key);
      settled.add(key);
    }
    lines.push(result);
  }
  return { chunk: { type: "chunk", v: 1, psp, reportId, chunkNo, lines, rejected }, settled };
}

async function publish(d: IngestDeps, subject: string, record: unknown, msgID: string): Promise<number> {
  const ack = await d.js.publish(subject, encode(record), { msgID, timeout: 10_000, retries: 3 });
  return ack.seq;
}
