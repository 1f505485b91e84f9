// Settlement ingest: a PSP's report streamed through its adapter's parser, reconciled line by line
// against the payments read model, recorded in SETTLE chunk by chunk (the record) and applied to the
// read models as it goes. Memory stays flat: one chunk at a time. Idempotent end to end:
// - the same report again (PSP report id and content hash) answers the first ingest's summary;
// - the same content under another report id answers the first ingest's summary too (`replayed`,
//   with the first report's id): a report's content is its identity, whatever id it is uploaded as;
// - a line the PSP already reported in an earlier report (the same PSP line id: acme's balance
//   transaction, bolt's modification and type) is rejected, never booked twice;
// - the same report id with other content is refused (a closed batch never changes);
// - the same content under several ids at the same moment is taken in once: an ingest claims its
//   content first (settlement_ingest_claims), and the others are refused until it is recorded;
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
import { ReportContentError } from "../psp/settlement/guard.ts";
import { outOfBound, PAYMENT_LINE_KINDS, type ParsedLine, type RejectedLine } from "./core/line.ts";
import { lineMatchKey, reconcile, lineSettled, type Tolerance } from "./core/match.ts";
import type { ChunkRecord, ReportRecord, ReportSummary } from "./records.ts";
import {
  applyChunk,
  applyReport,
  claimContent,
  findLinesTaken,
  findOperations,
  reportByContent,
  releaseContent,
  reportSummary,
} from "./store.ts";

export type ReportParser = (input: Readable, opts: { reportId: string }) => AsyncIterable<ParsedLine>;

export type IngestDeps = {
  js: JetStreamClient;
  topo: Topology;
  sql: Sql;
  log: Logger;
  metrics: Metrics;
  tolerance: Tolerance;
  now: () => Date;
  /** Lines per chunk (one SETTLE message, one transaction), at most. */
  chunkLines?: number;
  /** Bytes per chunk, about (its lines as JSON, twice: a line and its exception), at most. */
  chunkBytes?: number;
};

export type IngestRequest = {
  psp: string;
  reportId: string;
  /** SHA-256 (hex) of the whole report as received. */
  sha256: string;
  input: Readable;
  /**
   * The report again, for a first pass that checks every line's amounts against the sanity bound
   * before anything is recorded (a line past it refuses the whole report, ReportContentError).
   */
  vet?: () => Readable;
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
/** A claim on a report's content older than this belongs to an ingest that crashed: it may be taken over. */
const CLAIM_STALE_SECONDS = 600;
/**
 * A chunk is one SETTLE message: well under the server's max_payload (1 MiB by default) whatever its
 * lines hold. A line is at most MAX_RECORD_BYTES (guard.ts) long, so one line alone always fits.
 */
const CHUNK_BYTES = 256 * 1024;
/** Line kinds booked as they are (no operation to settle): a repeat of one of their line ids is not booked again. */
const isBooked = (p: ParsedLine): boolean => p.ok && !PAYMENT_LINE_KINDS.has(p.line.kind);
/**
 * A line's share of its chunk's message, in bytes: its JSON (UTF-8) twice — the line and, when it
 * raises one, the exception that repeats it — and room for its outcome and operation. A reject: its reason.
 */
const sizeOf = (p: ParsedLine): number =>
  p.ok ? Buffer.byteLength(JSON.stringify(p.line)) * 2 + 512 : Buffer.byteLength(p.rejected.reason) + 64;

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
  const replay = await replayOfContent(d, req);
  if (replay) return replay;
  // The same content under other ids at the same moment: one ingest at a time, the others refused
  // until it is recorded (then they answer its replay). Checked again once claimed: the holder may
  // have finished between the look above and the claim.
  const claim = { psp: req.psp, sha256: req.sha256, reportId: req.reportId };
  const holder = await claimContent(d.sql, { ...claim, staleAfterSeconds: CLAIM_STALE_SECONDS });
  if (holder !== undefined) {
    req.input.resume();
    throw new ReportConflictError(
      `the same content is being taken in as report ${holder} of ${req.psp} right now; ` +
        "retry shortly: it will answer as that report's replay",
    );
  }
  try {
    return (await replayOfContent(d, req)) ?? (await ingestClaimed(d, req));
  } finally {
    await releaseContent(d.sql, claim).catch((err: unknown) =>
      d.log.warn({ err, ...claim }, "settlement ingest claim not released; it goes stale"),
    );
  }
}

/** The first ingest of this content under another id, answered as a replay; undefined when none. */
async function replayOfContent(d: IngestDeps, req: IngestRequest): Promise<IngestResult | undefined> {
  const same = await reportByContent(d.sql, req.psp, req.sha256);
  if (!same) return undefined;
  req.input.resume();
  d.log.info(
    { psp: req.psp, reportId: req.reportId, firstReportId: same.reportId, sha256: req.sha256 },
    "settlement report already taken in under another id; nothing booked",
  );
  return { ...same, replayed: true, rejects: [] };
}

async function ingestClaimed(d: IngestDeps, req: IngestRequest): Promise<IngestResult> {
  if (req.vet) await vetAmounts(req.vet(), req.parse, req.reportId);
  const started = performance.now();
  const subject = settleSubject(d.topo, req.psp, req.reportId);
  const totals = { lines: 0, matched: 0, exceptions: 0, rejected: 0 };
  const rejects: RejectedLine[] = [];
  const max = d.chunkLines ?? CHUNK_LINES;
  const maxBytes = d.chunkBytes ?? CHUNK_BYTES;
  let chunkNo = 0;
  let pending: ParsedLine[] = [];
  let pendingBytes = 0;
  // Line ids of booked lines (fees, payouts, adjustments) taken so far in this report: a repeat is
  // rejected like a line of an earlier report. Few per report, so memory stays small.
  const booked = new Map<string, number>();
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
    const { chunk, settled } = await reconcileChunk(
      d,
      req.psp,
      req.reportId,
      ++chunkNo,
      pending,
      recent,
      booked,
    );
    pending = [];
    pendingBytes = 0;
    await recording;
    recent = settled;
    recording = record(chunk);
    // Surfaces a failed recording at the next flush (or the final await) and never leaves it unhandled.
    recording.catch(() => undefined);
  };
  for await (const parsed of req.parse(req.input, { reportId: req.reportId })) {
    const size = sizeOf(parsed);
    if (pending.length > 0 && pendingBytes + size > maxBytes) await flush();
    pending.push(parsed);
    pendingBytes += size;
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
  booked: Map<string, number>,
): Promise<{ chunk: ChunkRecord; settled: ReadonlySet<string> }> {
  const rejected: RejectedLine[] = [];
  const keys = new Map<string, { kind: string; pspReference: string }>();
  const taken = await findLinesTaken(
    d.sql,
    psp,
    reportId,
    parsed.flatMap((p) => (p.ok ? [p.line.lineId] : [])),
  );
  const repeated = (p: ParsedLine & { ok: true }): string | undefined => {
    const before = taken.get(p.line.lineId);
    if (before) return `report ${before.reportId} (line ${before.lineNo})`;
    if (!isBooked(p)) return undefined;
    const earlier = booked.get(p.line.lineId);
    if (earlier !== undefined) return `line ${earlier} of this report`;
    booked.set(p.line.lineId, p.line.lineNo);
    return undefined;
  };
  const fresh: ParsedLine[] = [];
  for (const p of parsed) {
    if (!p.ok) {
      rejected.push(p.rejected);
      continue;
    }
    const where = repeated(p);
    if (where !== undefined) {
      rejected.push({
        lineNo: p.line.lineNo,
        reason: `line id ${p.line.lineId} was taken from ${where} already; not booked again`,
      });
      continue;
    }
    fresh.push(p);
    if (PAYMENT_LINE_KINDS.has(p.line.kind) && p.line.pspReference !== null)
      keys.set(lineMatchKey(psp, p.line.kind, p.line.pspReference), {
        kind: p.line.kind,
        pspReference: p.line.pspReference,
      });
  }
  const known = await findOperations(d.sql, psp, [...keys.values()]);
  const seen = new Set<string>(recent);
  const settled = new Set<string>();
  const now = d.now().toISOString();
  const lines: ChunkRecord["lines"] = [];
  for (const p of fresh) {
    if (!p.ok) continue;
    const line = p.line;
    const key = line.pspReference === null ? undefined : lineMatchKey(psp, line.kind, line.pspReference);
    const found = key === undefined ? undefined : known.get(key);
    const result = reconcile(line, found, seen, d.tolerance, now);
    if (lineSettled(result) && key !== undefined) {
      seen.add(key);
      settled.add(key);
    }
    lines.push(result);
  }
  return { chunk: { type: "chunk", v: 1, psp, reportId, chunkNo, lines, rejected }, settled };
}

/** The first pass: every line's amounts within the sanity bound, or the report is refused whole. */
async function vetAmounts(input: Readable, parse: ReportParser, reportId: string): Promise<void> {
  for await (const p of parse(input, { reportId })) {
    if (!p.ok) continue;
    const field = outOfBound(p.line);
    if (field !== null)
      throw new ReportContentError(
        p.line.lineNo,
        0,
        field,
        `${field} ${p.line[field]} (minor units) is past the bound of one line`,
      );
  }
}

async function publish(d: IngestDeps, subject: string, record: unknown, msgID: string): Promise<number> {
  const ack = await d.js.publish(subject, encode(record), { msgID, timeout: 10_000, retries: 3 });
  return ack.seq;
}
