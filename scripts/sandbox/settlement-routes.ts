// The sandbox's settlement controls, for tests and operators (the batches are settlement.ts's):
//   POST /_sandbox/psps/:psp/settlements  {discrepancies?: {drop, duplicate, fee_off, amount_off,
//        unknown, defer}}  closes the PSP's next batch now → 201 {psp, report_id, batch, lines, url,
//        closed_at, injected: [{kind, psp_reference, line_id}]}; nothing pending → 200 with report_id,
//        batch and url null, lines 0 (no batch number is used up).
//   GET  /_sandbox/psps/:psp/settlements               → {psp, reports: [{report_id, batch, lines, url, closed_at}]}
//   GET  /_sandbox/psps/:psp/settlements/:report_id.csv → the report, text/csv, the same bytes every time
// Errors are {error: {code, message}}: 400 invalid_json / invalid_body, 404 unknown_psp /
// report_not_found, 422 not_enough_lines (more discrepancies than pending payment lines).
import { readFileSync } from "node:fs";
import type { FastifyPluginCallback, FastifyReply } from "fastify";
import { z } from "zod";
import { FeePolicy } from "../../actors/policy/core/schemas.ts";
import { closeBatch, NO_DISCREPANCIES } from "./settlement.ts";
import type { ClosedBatch } from "./settlement-rows.ts";
import type { SimulatedPsp } from "./simulator.ts";

const Count = z.number().int().min(0).max(10_000);
const CloseBody = z
  .object({
    discrepancies: z
      .object({
        drop: Count.default(0),
        duplicate: Count.default(0),
        fee_off: Count.default(0),
        amount_off: Count.default(0),
        unknown: Count.default(0),
        defer: Count.default(0),
      })
      .strict()
      .default(NO_DISCREPANCIES),
  })
  .strict();

/** The sandbox PSPs price from the platform's default fee policy (and drift from it: settlement.ts). */
export function defaultFeePolicy(): FeePolicy {
  const file = new URL("../../config/policies/fees.json", import.meta.url);
  return FeePolicy.parse(JSON.parse(readFileSync(file, "utf8")));
}

const fail = (reply: FastifyReply, status: number, code: string, message: string) =>
  reply.code(status).send({ error: { code, message } });

export function settlementRoutes(
  psps: ReadonlyMap<string, SimulatedPsp>,
  policy: FeePolicy,
  now: () => Date,
): FastifyPluginCallback {
  const base = (psp: string) => `/_sandbox/psps/${psp}/settlements`;
  const summary = (psp: string, b: ClosedBatch) => ({
    report_id: b.reportId,
    batch: b.batch,
    lines: b.lines,
    url: `${base(psp)}/${encodeURIComponent(b.reportId)}.csv`,
    closed_at: b.closedAt,
  });

  return (app, _opts, done) => {
    // Fastify's own refusals (malformed JSON, wrong content type) as coded 4xx, never a bare 500.
    app.setErrorHandler((err, _req, reply) => {
      const { message = "invalid request", statusCode = 500 } = err as {
        message?: string;
        statusCode?: number;
      };
      if (statusCode >= 500)
        return fail(reply, 500, "internal_error", "the sandbox failed to close the batch");
      return fail(reply, statusCode, "invalid_json", message);
    });

    app.post("/_sandbox/psps/:psp/settlements", async (req, reply) => {
      const { psp: name } = req.params as { psp: string };
      const psp = psps.get(name);
      if (!psp) return fail(reply, 404, "unknown_psp", `no sandbox PSP named ${name}`);
      const body = CloseBody.safeParse(req.body ?? {});
      if (!body.success) return fail(reply, 400, "invalid_body", z.prettifyError(body.error));
      const outcome = closeBatch(psp, policy, now(), body.data.discrepancies);
      if ("refused" in outcome) return fail(reply, 422, outcome.refused, outcome.message);
      if (!outcome.closed) {
        return reply
          .code(200)
          .send({ psp: name, report_id: null, batch: null, lines: 0, url: null, injected: [] });
      }
      return reply
        .code(201)
        .send({ psp: name, ...summary(name, outcome.closed), injected: outcome.closed.injected });
    });

    app.get("/_sandbox/psps/:psp/settlements", async (req, reply) => {
      const { psp: name } = req.params as { psp: string };
      const psp = psps.get(name);
      if (!psp) return fail(reply, 404, "unknown_psp", `no sandbox PSP named ${name}`);
      return { psp: name, reports: psp.batches().map((b) => summary(name, b)) };
    });

    app.get("/_sandbox/psps/:psp/settlements/:file", async (req, reply) => {
      const { psp: name, file } = req.params as { psp: string; file: string };
      const psp = psps.get(name);
      if (!psp) return fail(reply, 404, "unknown_psp", `no sandbox PSP named ${name}`);
      const report = file.endsWith(".csv")
        ? psp.batches().find((b) => `${b.reportId}.csv` === file)
        : undefined;
      if (!report) return fail(reply, 404, "report_not_found", `no report ${file} at ${name}`);
      return reply.code(200).type("text/csv; charset=utf-8").send(report.csv);
    });
    done();
  };
}
