// The settlement read models in PostgreSQL: reports, lines with their outcome, rejected lines,
// reconciliation exceptions, and the ledger entries of lines that belong to no single payment (fees,
// payouts). Written by the ingest as it goes and by the SETTLE/RECON followers (rebuilds), always
// idempotently: the same chunk applied twice changes nothing.
import type { Sql, Tx } from "../../streams/db/client.ts";
import { entriesForLine } from "../ledger/core/postings.ts";
import { entriesForResolution } from "../ledger/core/resolutions.ts";
import { insertEntries } from "../ledger/store.ts";
import type { MatchedOperation, ReconException, Resolution } from "./core/exceptions.ts";
import { lineKey, lineMatchKey, lineSettled, type KnownOperation } from "./core/match.ts";
import type { ChunkRecord, ReconRecord, ReportRecord, ReportSummary } from "./records.ts";

/** A `psp_operations` row as the queries that read operations select it. */
export type OperationRow = {
  payment_id: string;
  merchant_id: string;
  psp: string;
  kind: "capture" | "refund" | "void";
  operation_id: string | null;
  psp_reference: string;
  amount: number;
  currency: string;
  expected_fee: number | null;
  at: Date;
};

export function operationOfRow(r: OperationRow): MatchedOperation {
  return {
    paymentId: r.payment_id,
    merchantId: r.merchant_id,
    psp: r.psp,
    kind: r.kind,
    operationId: r.operation_id,
    pspReference: r.psp_reference,
    amount: r.amount,
    currency: r.currency,
    expectedFee: r.expected_fee,
    at: r.at.toISOString(),
  };
}

export async function findOperations(
  sql: Sql | Tx,
  psp: string,
  keys: ReadonlyArray<{ kind: string; pspReference: string }>,
): Promise<Map<string, KnownOperation>> {
  if (keys.length === 0) return new Map();
  const rows = await sql<
    (OperationRow & { settled_by: string | null })[]
  >`select o.payment_id, o.merchant_id, o.psp, o.kind, o.operation_id, o.psp_reference, o.amount,
      o.currency, o.expected_fee, o.at, o.settled_by
    from psp_operations o
    join unnest(${keys.map((k) => k.kind)}::text[], ${keys.map((k) => k.pspReference)}::text[]) as k(kind, ref)
      on o.kind = k.kind and o.psp_reference = k.ref
    where o.psp = ${psp}`;
  return new Map(
    rows.map((r) => [
      lineMatchKey(r.psp, r.kind, r.psp_reference),
      { ...operationOfRow(r), settledBy: r.settled_by },
    ]),
  );
}

export async function applyChunk(tx: Tx, chunk: ChunkRecord): Promise<void> {
  const lines = chunk.lines.map(({ line, outcome, operation, exception }) => ({
    psp: line.psp,
    report_id: line.reportId,
    line_no: line.lineNo,
    line_id: line.lineId,
    kind: line.kind,
    psp_reference: line.pspReference,
    payment_id: operation?.paymentId ?? null,
    operation_id: operation?.operationId ?? null,
    currency: line.currency,
    amount: line.amount,
    fee: line.fee,
    expected_fee: operation?.expectedFee ?? null,
    net: line.net,
    batch: line.batch,
    payout_id: line.payoutId,
    created_at: line.createdAt,
    outcome,
    exception_id: exception?.id ?? null,
  }));
  if (lines.length > 0) await tx`insert into settlement_lines ${tx(lines)} on conflict do nothing`;
  const rejects = chunk.rejected.map((r) => ({
    psp: chunk.psp,
    report_id: chunk.reportId,
    line_no: r.lineNo,
    reason: r.reason.slice(0, 500),
  }));
  if (rejects.length > 0) await tx`insert into settlement_rejects ${tx(rejects)} on conflict do nothing`;
  const exceptions = chunk.lines.flatMap((l) => (l.exception ? [exceptionRow(l.exception)] : []));
  if (exceptions.length > 0) await tx`insert into recon_exceptions ${tx(exceptions)} on conflict do nothing`;
  const matched = chunk.lines.filter((l) => lineSettled(l) && l.operation);
  if (matched.length > 0) {
    await tx`update psp_operations o set settled_by = k.line
      from unnest(${matched.map((l) => l.operation?.kind ?? "")}::text[],
                  ${matched.map((l) => l.operation?.pspReference ?? "")}::text[],
                  ${matched.map((l) => lineKey(l.line))}::text[]) as k(kind, ref, line)
      where o.psp = ${chunk.psp} and o.kind = k.kind and o.psp_reference = k.ref and o.settled_by is null`;
  }
  const booked = chunk.lines.filter((l) => l.outcome === "booked");
  await insertEntries(
    tx,
    booked.flatMap((l) => entriesForLine(l.line)),
  );
}

export async function applyReport(tx: Tx, r: ReportRecord): Promise<void> {
  await tx`insert into settlement_reports ${tx({
    psp: r.psp,
    report_id: r.reportId,
    content_sha256: r.sha256,
    source: r.source,
    operator: r.operator,
    lines: r.lines,
    matched: r.matched,
    exceptions: r.exceptions,
    rejected: r.rejected,
    ingested_at: r.at,
  })} on conflict do nothing`;
}

export async function applyRecon(tx: Tx, r: ReconRecord, seq: number): Promise<void> {
  if (r.type === "missing") {
    await tx`insert into recon_exceptions ${tx(exceptionRow(r.exception))} on conflict do nothing`;
    return;
  }
  await tx`insert into recon_exceptions ${tx(exceptionRow(r.exception))} on conflict do nothing`;
  const res = r.resolution;
  await tx`update recon_exceptions set status = 'resolved', resolution = ${res.resolution},
      resolved_by = ${res.operator}, resolved_at = ${res.at}, reason = ${res.reason}
    where id = ${res.exceptionId} and status = 'open'`;
  await insertEntries(tx, entriesForResolution(r.exception, res, { seq }));
}

function exceptionRow(x: ReconException) {
  return {
    id: x.id,
    kind: x.kind,
    psp: x.psp,
    report_id: x.line?.reportId ?? null,
    line_no: x.line?.lineNo ?? null,
    payment_id: x.operation?.paymentId ?? null,
    currency: x.line?.currency ?? x.operation?.currency ?? null,
    amount: x.line?.amount ?? x.operation?.amount ?? null,
    detail: x.detail,
    status: "open",
    opened_at: x.openedAt,
    record: x,
  };
}

export async function reportSummary(
  sql: Sql,
  psp: string,
  reportId: string,
): Promise<ReportSummary | undefined> {
  const rows = await sql<
    { content_sha256: string; lines: number; matched: number; exceptions: number; rejected: number }[]
  >`select content_sha256, lines, matched, exceptions, rejected from settlement_reports
    where psp = ${psp} and report_id = ${reportId}`;
  const r = rows[0];
  return (
    r && {
      psp,
      reportId,
      sha256: r.content_sha256,
      lines: r.lines,
      matched: r.matched,
      exceptions: r.exceptions,
      rejected: r.rejected,
    }
  );
}

/** The first report of this PSP ingested with this content (SHA-256), whatever its id. */
export async function reportByContent(
  sql: Sql,
  psp: string,
  sha256: string,
): Promise<ReportSummary | undefined> {
  const rows = await sql<{ report_id: string }[]>`
    select report_id from settlement_reports where psp = ${psp} and content_sha256 = ${sha256}
    order by ingested_at limit 1`;
  const first = rows[0];
  return first && reportSummary(sql, psp, first.report_id);
}

/**
 * Claim the ingest of this content for `reportId`: undefined when the claim is ours (new, already
 * ours, or another's gone stale: its ingest crashed), else the report id that holds it right now.
 */
export async function claimContent(
  sql: Sql,
  claim: { psp: string; sha256: string; reportId: string; staleAfterSeconds: number },
): Promise<string | undefined> {
  const ours = await sql<{ report_id: string }[]>`
    insert into settlement_ingest_claims (psp, content_sha256, report_id)
    values (${claim.psp}, ${claim.sha256}, ${claim.reportId})
    on conflict (psp, content_sha256) do update set report_id = excluded.report_id, claimed_at = now()
      where settlement_ingest_claims.report_id = excluded.report_id
         or settlement_ingest_claims.claimed_at < now() - make_interval(secs => ${claim.staleAfterSeconds})
    returning report_id`;
  if (ours.length > 0) return undefined;
  const [holder] = await sql<{ report_id: string }[]>`
    select report_id from settlement_ingest_claims
    where psp = ${claim.psp} and content_sha256 = ${claim.sha256}`;
  // Released between the two statements: the holder is done, and the caller's re-check finds its report.
  return holder?.report_id;
}

export async function releaseContent(
  sql: Sql,
  claim: { psp: string; sha256: string; reportId: string },
): Promise<void> {
  await sql`delete from settlement_ingest_claims
    where psp = ${claim.psp} and content_sha256 = ${claim.sha256} and report_id = ${claim.reportId}`;
}

/** Of these PSP line ids, the ones already taken from another report than `reportId` (first taken wins). */
export async function findLinesTaken(
  sql: Sql,
  psp: string,
  reportId: string,
  lineIds: readonly string[],
): Promise<Map<string, { reportId: string; lineNo: number }>> {
  if (lineIds.length === 0) return new Map();
  const rows = await sql<{ line_id: string; report_id: string; line_no: number }[]>`
    select distinct on (line_id) line_id, report_id, line_no from settlement_lines
    where psp = ${psp} and line_id = any(${[...new Set(lineIds)]}::text[]) and report_id <> ${reportId}
    order by line_id, created_at, report_id, line_no`;
  return new Map(rows.map((r) => [r.line_id, { reportId: r.report_id, lineNo: r.line_no }]));
}

export type ExceptionFilter = { status?: string; kind?: string; psp?: string; limit: number; after?: string };

export async function listExceptions(sql: Sql, f: ExceptionFilter) {
  return sql<
    {
      id: string;
      kind: string;
      psp: string;
      status: string;
      payment_id: string | null;
      report_id: string | null;
      line_no: number | null;
      currency: string | null;
      amount: number | null;
      detail: string;
      opened_at: Date;
      resolution: string | null;
      resolved_by: string | null;
      resolved_at: Date | null;
      reason: string | null;
    }[]
  >`select id, kind, psp, status, payment_id, report_id, line_no, currency, amount, detail, opened_at,
      resolution, resolved_by, resolved_at, reason
    from recon_exceptions
    where (${f.status ?? null}::text is null or status = ${f.status ?? null})
      and (${f.kind ?? null}::text is null or kind = ${f.kind ?? null})
      and (${f.psp ?? null}::text is null or psp = ${f.psp ?? null})
      and (${f.after ?? null}::text is null or id > ${f.after ?? null})
    order by id limit ${f.limit}`;
}

export async function getException(
  sql: Sql,
  id: string,
): Promise<{ exception: ReconException; status: string } | undefined> {
  const rows = await sql<{ record: ReconException; status: string }[]>`
    select record, status from recon_exceptions where id = ${id}`;
  const r = rows[0];
  return r && { exception: r.record, status: r.status };
}

export type { Resolution };
