// The operator routes of settlement and reconciliation: upload a PSP's settlement report (streamed
// to a spool file while it is hashed, then ingested chunk by chunk), list reports, the exception
// queue and its resolutions, and the fee-variance report. Every change is audited.
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { ExceptionKind, ResolutionKind } from "../../actors/settlement/core/exceptions.ts";
import {
  PspParams,
  UploadQuery,
  IngestResponse,
  ExceptionBody,
  ExceptionQuery,
  ResolveBody,
  Period,
} from "./ops-settlement-schemas.ts";
import { ingestReport, ReportConflictError } from "../../actors/settlement/ingest.ts";
import { spoolAndHash } from "../../actors/settlement/spool.ts";
import { feeVariance, resolveException, ResolveError } from "../../actors/settlement/service.ts";
import { listExceptions } from "../../actors/settlement/store.ts";
import {
  ReportContentError,
  ReportFormatError,
  settlementParsers,
} from "../../actors/psp/settlement/index.ts";
import type { OpsDeps, SettlementDeps } from "../deps.ts";
import { ApiError, storeCall, type Refusal } from "../errors.ts";
import { BODY_ERRORS, errorResponses, OPERATOR_ERRORS } from "./docs.ts";
import { audited, OPS_SECURITY as security, OPS_TAGS as tags } from "./ops-common.ts";

/** Far beyond any daily report; a larger upload is refused with 413 as it streams. */
const MAX_REPORT_BYTES = 2 * 1024 ** 3;

export const opsSettlementRoutes: FastifyPluginCallbackZod<OpsDeps> = (app, ops, done) => {
  const s = ops.settlement;
  if (!s) {
    done();
    return;
  }
  // The report body is read by the route as a stream; nothing buffers it.
  app.addContentTypeParser(["text/csv", "application/octet-stream"], (_req, _payload, next) =>
    next(null, undefined),
  );

  app.post(
    "/settlements/:psp/reports",
    {
      schema: {
        summary: "Upload a PSP's settlement report",
        description:
          "The CSV as the body (text/csv), in the PSP's own format; streamed, any size. Lines are " +
          "reconciled as they are read; a malformed line is counted in `rejected` and the rest is taken. " +
          "The same report again, under any id, changes nothing (`replayed`, with the first report's id); " +
          "the same report id with other content is 409. A line the PSP reported before is rejected. Bytes that " +
          "are not UTF-8, a NUL, a field over 4 KiB or an amount past 10^13 minor units refuse the report " +
          "whole (400 `report_format_invalid`, details: line, column, column_name) before anything is taken.",
        tags,
        security,
        params: PspParams,
        querystring: UploadQuery,
        response: {
          200: IngestResponse,
          ...errorResponses(
            OPERATOR_ERRORS,
            BODY_ERRORS,
            "psp_not_found",
            "report_conflict",
            "report_format_invalid",
            "audit_unavailable",
          ),
        },
      },
    },
    async (req, reply) => {
      const { psp } = req.params;
      const parse = settlementParsers[psp];
      if (!parse) throw new ApiError("psp_not_found", `no settlement report format for PSP ${psp}`);
      const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
      if (type !== "text/csv" && type !== "application/octet-stream")
        throw new ApiError("unsupported_media_type", "send the report as text/csv");
      const spool = join(tmpdir(), `switchyard-report-${randomBytes(8).toString("hex")}.csv`);
      try {
        const sha256 = await call(s, () =>
          spoolAndHash(
            req.raw,
            spool,
            MAX_REPORT_BYTES,
            () => new ApiError("payload_too_large", `a report may be at most ${MAX_REPORT_BYTES} bytes`),
          ),
        ).catch((err: unknown) => {
          // Refused mid-upload: the rest of the body is not read (the stream was cut), so the
          // connection cannot carry another request; say so, or a client would reuse it.
          void reply.header("connection", "close");
          return refused(s, req, psp, err);
        });
        const reportId = req.query.report_id ?? `sha256-${sha256.slice(0, 32)}`;
        const result = await audited(
          req,
          "settlement.upload",
          { psp, report_id: reportId, sha256 },
          "settlement report uploaded",
          () =>
            call(s, () =>
              ingestReport(
                { ...s, now: () => new Date() },
                {
                  psp,
                  reportId,
                  sha256,
                  input: createReadStream(spool),
                  vet: () => createReadStream(spool),
                  parse,
                  source: "upload",
                  operator: req.operator ?? null,
                },
              ),
            ).catch((err: unknown) => refused(s, req, psp, err)),
        );
        return reply.send({
          report_id: result.reportId,
          psp,
          sha256: result.sha256,
          lines: result.lines,
          matched: result.matched,
          exceptions: result.exceptions,
          rejected: result.rejected,
          replayed: result.replayed,
          rejects: result.rejects.map((r) => ({ line_no: r.lineNo, reason: r.reason })),
        });
      } finally {
        await rm(spool, { force: true });
      }
    },
  );

  app.get(
    "/settlements/reports",
    {
      schema: {
        summary: "Settlement reports taken in",
        tags,
        security,
        querystring: z.strictObject({ psp: z.string().max(32).optional() }),
        response: {
          200: z.object({
            reports: z.array(
              IngestResponse.omit({ replayed: true, rejects: true }).extend({
                source: z.string(),
                operator: z.string().nullable(),
                ingested_at: z.string(),
              }),
            ),
          }),
          ...errorResponses(OPERATOR_ERRORS, "validation_error"),
        },
      },
    },
    async (req, reply) => {
      const psp = req.query.psp ?? null;
      const rows = await call(
        s,
        () =>
          s.sql<
            {
              psp: string;
              report_id: string;
              content_sha256: string;
              lines: number;
              matched: number;
              exceptions: number;
              rejected: number;
              source: string;
              operator: string | null;
              ingested_at: Date;
            }[]
          >`
          select * from settlement_reports where (${psp}::text is null or psp = ${psp}) order by ingested_at desc limit 500`,
      );
      return reply.send({
        reports: rows.map((r) => ({
          report_id: r.report_id,
          psp: r.psp,
          sha256: r.content_sha256,
          lines: r.lines,
          matched: r.matched,
          exceptions: r.exceptions,
          rejected: r.rejected,
          source: r.source,
          operator: r.operator,
          ingested_at: r.ingested_at.toISOString(),
        })),
      });
    },
  );

  app.get(
    "/reconciliation/exceptions",
    {
      schema: {
        summary: "The reconciliation exception queue",
        description: "Ordered by id; page with `after` (the last id of the previous page).",
        tags,
        security,
        querystring: ExceptionQuery,
        response: {
          200: z.object({ exceptions: z.array(ExceptionBody), next_after: z.string().nullable() }),
          ...errorResponses(OPERATOR_ERRORS, "validation_error"),
        },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const rows = await call(s, () =>
        listExceptions(s.sql, {
          limit: q.limit,
          ...(q.status !== undefined && { status: q.status }),
          ...(q.kind !== undefined && { kind: q.kind }),
          ...(q.psp !== undefined && { psp: q.psp }),
          ...(q.after !== undefined && { after: q.after }),
        }),
      );
      const exceptions = rows.map((r) => ({
        ...r,
        status: r.status === "resolved" ? ("resolved" as const) : ("open" as const),
        kind: ExceptionKind.parse(r.kind),
        opened_at: r.opened_at.toISOString(),
        resolved_at: r.resolved_at?.toISOString() ?? null,
      }));
      return reply.send({
        exceptions,
        next_after: rows.length === q.limit ? (rows.at(-1)?.id ?? null) : null,
      });
    },
  );

  app.post(
    "/reconciliation/exceptions/:id/resolve",
    {
      schema: {
        summary: "Resolve a reconciliation exception",
        description:
          "accept: take the line as the PSP reports it (the difference to write-off where money differs); " +
          "write_off: book the line against write-off; link: the line belongs to `payment_id` after all; " +
          "requery: ask the PSP again about the payment (the exception stays open). One resolution per exception.",
        tags,
        security,
        params: z.object({ id: z.string().min(1).max(300) }),
        body: ResolveBody,
        response: {
          200: z.object({
            id: z.string(),
            status: z.enum(["open", "resolved"]),
            resolution: ResolutionKind,
            amount: z.number().int().describe("What the resolution moved in the ledger, in minor units."),
            currency: z.string().nullable(),
            payment_id: z.string().nullable(),
            resolved_by: z.string(),
            resolved_at: z.string(),
          }),
          ...errorResponses(
            OPERATOR_ERRORS,
            BODY_ERRORS,
            "exception_not_found",
            "exception_already_resolved",
            "link_target_invalid",
            "nothing_to_requery",
            "audit_unavailable",
          ),
        },
      },
    },
    async (req, reply) => {
      const body = req.body;
      const operator = req.operator ?? "unknown";
      const r = await audited(
        req,
        "reconciliation.resolve",
        {
          exception: req.params.id,
          resolution: body.resolution,
          reason: body.reason,
          payment_id: body.payment_id ?? null,
        },
        "reconciliation exception resolved",
        () =>
          call(s, () =>
            resolveException(
              { ...s, now: () => new Date() },
              {
                exceptionId: req.params.id,
                resolution: body.resolution,
                reason: body.reason,
                operator,
                paymentId: body.payment_id ?? null,
              },
            ),
          ),
      );
      return reply.send({
        id: r.exception.id,
        status: r.status,
        resolution: r.resolution.resolution,
        amount: r.resolution.amount,
        currency: r.resolution.currency,
        payment_id: r.resolution.paymentId,
        resolved_by: operator,
        resolved_at: r.resolution.at,
      });
    },
  );

  app.get(
    "/settlements/fee-variance",
    {
      schema: {
        summary: "Actual against expected PSP fees",
        description:
          "Settled captures in [from, to), per PSP, card scheme, region (from the routing policy's home " +
          "country) and currency: what an operator needs to correct the fee policy least-cost routing trusts.",
        tags,
        security,
        querystring: Period,
        response: {
          200: z.object({
            from: z.string(),
            to: z.string(),
            rows: z.array(
              z.object({
                psp: z.string(),
                scheme: z.string(),
                region: z.string(),
                currency: z.string(),
                lines: z.number().int(),
                expected: z.number().int(),
                actual: z.number().int(),
                variance: z.number().int(),
                variance_bps: z.number().int().nullable(),
              }),
            ),
          }),
          ...errorResponses(OPERATOR_ERRORS, "validation_error"),
        },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const homeCountry = await call(s, () => s.homeCountry());
      const rows = await call(s, () =>
        feeVariance(s.sql, {
          from: q.from,
          to: q.to,
          homeCountry,
          ...(q.psp !== undefined && { psp: q.psp }),
        }),
      );
      return reply.send({ from: q.from, to: q.to, rows });
    },
  );
  done();
};

/** A report refused whole: counted and logged (the operator will ask why), then answered. */
function refused(
  s: SettlementDeps,
  req: { log: { warn(o: object, m: string): void } },
  psp: string,
  err: unknown,
): never {
  if (err instanceof ApiError && err.status < 500) {
    const result = err.code === "report_conflict" ? "conflict" : "refused";
    s.metrics.settlementReports.inc({ psp, source: "upload", result });
    req.log.warn({ psp, code: err.code, reason: err.message }, "settlement report refused");
  }
  throw err;
}

/** Known refusals keep their code; the database or NATS away is 503. */
export function call<T>(_s: SettlementDeps, fn: () => Promise<T>): Promise<T> {
  return storeCall(fn, {
    unavailable: "the settlement store cannot be reached right now; retry later",
    refusal: settlementRefusal,
  });
}

function settlementRefusal(err: unknown): Refusal | undefined {
  if (err instanceof ResolveError) return err;
  if (err instanceof ReportConflictError) return { code: "report_conflict", message: err.message };
  if (err instanceof ReportFormatError) return { code: "report_format_invalid", message: err.message };
  if (err instanceof ReportContentError)
    return {
      code: "report_format_invalid",
      message: err.message,
      details: { line: err.line, column: err.column, column_name: err.columnName },
    };
  return undefined;
}
