// The operator routes of the ledger (a read model of the payment, settlement and reconciliation
// streams): the trial balance at a moment, the journal export streamed with its digest trailer, and
// the rebuild of a read model from its stream.
import { Readable } from "node:stream";
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { exportLines, ExportFormat } from "../../actors/ledger/core/export.ts";
import { exactNumber, LedgerRangeError, totalsOf, trialBalance } from "../../actors/ledger/store.ts";
import { journal } from "../../actors/settlement/service.ts";
import type { OpsDeps } from "../deps.ts";
import { ApiError } from "../errors.ts";
import { readModelsReady } from "../read-models.ts";
import { errorResponses, OPERATOR_ERRORS } from "./docs.ts";
import { audit, audited, OPS_SECURITY as security, OPS_TAGS as tags } from "./ops-common.ts";
import { call } from "./ops-settlement.ts";

const Balance = z.object({
  account: z.string(),
  currency: z.string(),
  debit: z.number().int(),
  credit: z.number().int(),
  balance: z.number().int().describe("debit − credit"),
});

export const opsLedgerRoutes: FastifyPluginCallbackZod<OpsDeps> = (app, ops, done) => {
  const s = ops.settlement;
  if (!s) {
    done();
    return;
  }
  app.get(
    "/ledger/trial-balance",
    {
      schema: {
        summary: "Each account's balance at a moment",
        description:
          "Debits equal credits per currency (`balanced`), or the ledger is wrong. While the read models " +
          "are being rebuilt: 503 read_model_rebuilding. `complete` is false when followers set frames " +
          "aside (`set_aside`, GET /ops/read-models/set-aside): the balance lacks what they hold.",
        tags,
        security,
        querystring: z.strictObject({ at: z.iso.datetime().optional().describe("Default: now.") }),
        response: {
          200: z.object({
            at: z.string(),
            accounts: z.array(Balance),
            totals: z.array(
              z.object({
                currency: z.string(),
                debit: z.number().int(),
                credit: z.number().int(),
                balanced: z.boolean(),
              }),
            ),
            balanced: z.boolean(),
            complete: z.boolean(),
            set_aside: z.number().int(),
          }),
          ...errorResponses(
            OPERATOR_ERRORS,
            "validation_error",
            "read_model_rebuilding",
            "ledger_out_of_range",
          ),
        },
      },
    },
    async (req, reply) => {
      const at = req.query.at ?? new Date().toISOString();
      const { setAside } = await call(s, () => readModelsReady(s.sql));
      const rows = await call(s, () => trialBalance(s.sql, at));
      // Summed in bigint; given as JSON numbers, which are exact only up to 2^53: a sum past that
      // is a 500 naming it (ledger_out_of_range), never a rounded number nor a 503.
      try {
        const accounts = rows.map((a) => ({
          account: a.account,
          currency: a.currency,
          debit: exactNumber(a.debit, `the debits of ${a.account} in ${a.currency}`),
          credit: exactNumber(a.credit, `the credits of ${a.account} in ${a.currency}`),
          balance: exactNumber(a.balance, `the balance of ${a.account} in ${a.currency}`),
        }));
        const totals = totalsOf(rows).map((t) => ({
          currency: t.currency,
          debit: exactNumber(t.debit, `the total debits in ${t.currency}`),
          credit: exactNumber(t.credit, `the total credits in ${t.currency}`),
          balanced: t.balanced,
        }));
        return await reply.send({
          at,
          accounts,
          totals,
          balanced: totals.every((t) => t.balanced),
          complete: setAside === 0,
          set_aside: setAside,
        });
      } catch (err) {
        if (!(err instanceof LedgerRangeError)) throw err;
        req.log.error({ err }, "trial balance past 2^53");
        throw new ApiError("ledger_out_of_range", err.message, {}, { cause: err });
      }
    },
  );

  app.get(
    "/ledger/export",
    {
      schema: {
        summary: "The journal, streamed",
        description:
          "Entries with from <= at < to. csv: one row per posting, then a `#trailer` row; jsonl: one entry " +
          "per line, then a trailer object. The trailer gives the line count, per-currency totals and the " +
          "SHA-256 of everything before it (docs/ledger.md; `npm run audit:verify -- --ledger-export FILE`).",
        tags,
        security,
        querystring: z.strictObject({
          from: z.iso.datetime(),
          to: z.iso.datetime(),
          format: ExportFormat.default("csv"),
        }),
        response: {
          200: z.string().describe("The export (text/csv or application/x-ndjson)."),
          ...errorResponses(
            OPERATOR_ERRORS,
            "validation_error",
            "read_model_rebuilding",
            "audit_unavailable",
          ),
        },
      },
    },
    async (req, reply) => {
      const { from, to, format } = req.query;
      if (Date.parse(from) > Date.parse(to))
        throw new ApiError("validation_error", "from must not be after to", {
          issues: [{ in: "querystring", path: "from", code: "custom", message: "from must not be after to" }],
        });
      await call(s, () => readModelsReady(s.sql));
      await audit(req, "ledger.export", { from, to, format }, "ledger exported");
      const lines = exportLines(journal(s.sql, from, to), format);
      const body = Readable.from(lines);
      return (
        reply
          .type(format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson")
          .header(
            "content-disposition",
            `attachment; filename="ledger-${from.slice(0, 10)}-${to.slice(0, 10)}.${format}"`,
          )
          // A stream is sent as it is (no serializer); the 200 schema above only documents it.
          .send(body as unknown as string)
      );
    },
  );

  app.post(
    "/read-models/:name/rebuild",
    {
      schema: {
        summary: "Rebuild the read models from the streams",
        description:
          "`all` (the one name today): empties the read models — payments, settlement lines, exceptions, " +
          "the ledger journal — and puts their positions back to the start; the workers' followers replay " +
          "the streams into them. JetStream is the record; nothing is lost.",
        tags,
        security,
        params: z.object({ name: z.string().max(64) }),
        response: {
          202: z.object({ read_model: z.string(), status: z.literal("rebuilding") }),
          ...errorResponses(OPERATOR_ERRORS, "read_model_not_found", "audit_unavailable"),
        },
      },
    },
    async (req, reply) => {
      const rebuild = s.rebuild;
      const { name } = req.params;
      if (!rebuild || name !== "all")
        throw new ApiError("read_model_not_found", `no read model ${name} to rebuild (all)`);
      // Audited before it empties anything: no record, no rebuild (503 audit_unavailable).
      await audited(
        req,
        "read_model.rebuild",
        { read_model: name },
        "read model rebuild requested",
        async () => {
          if (!(await call(s, () => rebuild(name))))
            throw new ApiError("read_model_not_found", `no read model ${name} to rebuild (all)`);
        },
      );
      return reply.code(202).send({ read_model: name, status: "rebuilding" as const });
    },
  );
  done();
};
