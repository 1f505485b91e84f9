// What the operator API does with settlement, reconciliation and the ledger, over the streams and
// the read models: resolve an exception (recorded in RECON once, fenced, then applied), the fee
// variance report, the trial balance and the journal export. I/O; the decisions are in match.ts and
// the ledger's pure core.
import type { JetStreamClient } from "@nats-io/jetstream";
import type { Logger } from "../../config/log.ts";
import type { Sql } from "../../streams/db/client.ts";
import { encode } from "../../streams/envelopes.ts";
import { isWrongLastSequence } from "../../streams/jetstream-errors.ts";
import { commandSubject, reconSubject, type Topology } from "../../streams/topology.ts";
import { regionOf } from "../policy/core/region.ts";
import type { JournalEntry } from "../ledger/core/entry.ts";
import { entriesForResolution, settledByEvent } from "../ledger/core/resolutions.ts";
import type { MatchedOperation, ReconException, Resolution, ResolutionKind } from "./core/exceptions.ts";
import type { ReconRecord } from "./records.ts";
import { sendSettlement, settlementCommand } from "./settler.ts";
import { applyRecon, getException, operationOfRow, type OperationRow } from "./store.ts";

export class ResolveError extends Error {
  override name = "ResolveError";
  constructor(
    readonly code:
      "exception_not_found" | "exception_already_resolved" | "link_target_invalid" | "nothing_to_requery",
    message: string,
  ) {
    super(message);
  }
}

export type ResolveRequest = {
  exceptionId: string;
  resolution: ResolutionKind;
  reason: string;
  operator: string;
  paymentId: string | null;
};

export type ResolveDeps = { js: JetStreamClient; topo: Topology; sql: Sql; log: Logger; now: () => Date };

/**
 * accept, write_off and link close the exception: one resolution per exception, fenced in RECON (a
 * second one is refused), then applied to the read models and, where the line settles an operation,
 * sent to the payment as its settlement. requery closes nothing: it asks the payment's worker to look
 * again at the PSP (a status query of whatever the payment still has open).
 */
export async function resolveException(
  d: ResolveDeps,
  req: ResolveRequest,
): Promise<{ resolution: Resolution; exception: ReconException; status: "resolved" | "open" }> {
  const found = await getException(d.sql, req.exceptionId);
  if (!found) throw new ResolveError("exception_not_found", `no reconciliation exception ${req.exceptionId}`);
  if (found.status !== "open")
    throw new ResolveError("exception_already_resolved", `exception ${req.exceptionId} is already resolved`);
  let exception = found.exception;
  const at = d.now().toISOString();
  if (req.resolution === "requery") {
    const paymentId = exception.operation?.paymentId ?? req.paymentId;
    if (!paymentId)
      throw new ResolveError("nothing_to_requery", "this exception names no payment to ask the PSP about");
    const merchant = await d.sql<
      { merchant_id: string }[]
    >`select merchant_id from payments where id = ${paymentId}`;
    const merchantId = merchant[0]?.merchant_id;
    if (!merchantId) throw new ResolveError("nothing_to_requery", `no payment ${paymentId}`);
    await d.js.publish(
      commandSubject(d.topo, merchantId, paymentId),
      encode({
        v: 1,
        command: {
          type: "ResumePayment",
          paymentId,
          merchantId,
          reason: `requery for ${exception.id}: ${req.reason}`.slice(0, 200),
          at,
        },
      }),
      { timeout: 10_000 },
    );
    const resolution = {
      exceptionId: exception.id,
      resolution: "requery",
      reason: req.reason,
      operator: req.operator,
      paymentId,
      amount: 0,
      currency: null,
      at,
    } as const;
    return { resolution, exception, status: "open" };
  }
  if (req.resolution === "link") {
    if (!req.paymentId)
      throw new ResolveError("link_target_invalid", "link needs payment_id: the payment the line belongs to");
    exception = { ...exception, operation: await linkTarget(d.sql, exception, req.paymentId) };
  }
  const draft: Resolution = {
    exceptionId: exception.id,
    resolution: req.resolution,
    reason: req.reason,
    operator: req.operator,
    paymentId: req.paymentId ?? exception.operation?.paymentId ?? null,
    amount: 0,
    currency: exception.line?.currency ?? exception.operation?.currency ?? null,
    at,
  };
  const resolution = { ...draft, amount: moved(entriesForResolution(exception, draft, { seq: 0 })) };
  const record: ReconRecord = { type: "resolution", v: 1, resolution, exception };
  let seq: number;
  try {
    const ack = await d.js.publish(reconSubject(d.topo, "resolution", exception.id), encode(record), {
      expect: { lastSubjectSequence: 0, streamName: d.topo.reconStream },
      timeout: 10_000,
    });
    seq = ack.seq;
  } catch (err) {
    if (isWrongLastSequence(err))
      throw new ResolveError(
        "exception_already_resolved",
        `exception ${exception.id} was resolved meanwhile`,
      );
    throw err;
  }
  await d.sql.begin((tx) => applyRecon(tx, record, seq));
  if (exception.line && exception.operation && settledByEvent(exception, resolution)) {
    const envelope = settlementCommand(exception.line, exception.operation, at);
    if (envelope) await sendSettlement(d.js, d.topo, envelope);
  }
  return { resolution, exception, status: "resolved" };
}

/** For link: the operation of that payment the line settles (same kind, not yet settled). */
async function linkTarget(sql: Sql, x: ReconException, paymentId: string): Promise<MatchedOperation> {
  const kind = x.line?.kind;
  if (!x.line || (kind !== "capture" && kind !== "refund"))
    throw new ResolveError("link_target_invalid", "only a capture or refund line can be linked to a payment");
  const rows = await sql<
    OperationRow[]
  >`select payment_id, merchant_id, psp, kind, operation_id, psp_reference, amount, currency, expected_fee, at
    from psp_operations
    where payment_id = ${paymentId} and kind = ${kind} and psp = ${x.psp} and settled_by is null
    order by (amount = ${x.line.amount}) desc, at limit 1`;
  const r = rows[0];
  if (!r)
    throw new ResolveError(
      "link_target_invalid",
      `payment ${paymentId} has no unsettled ${kind} at ${x.psp}`,
    );
  return operationOfRow(r);
}

const moved = (entries: readonly JournalEntry[]): number =>
  entries.reduce((sum, e) => sum + e.postings.reduce((s, p) => s + p.debit, 0), 0);

export type FeeVarianceRow = {
  psp: string;
  scheme: string;
  region: string;
  currency: string;
  lines: number;
  expected: number;
  actual: number;
  variance: number;
  /** actual ÷ expected − 1, in basis points (null when nothing was expected). */
  variance_bps: number | null;
};

/** Actual against expected fees of settled captures, per PSP, scheme, region and currency, over [from, to). */
export async function feeVariance(
  sql: Sql,
  q: { from: string; to: string; psp?: string; homeCountry: string },
): Promise<FeeVarianceRow[]> {
  const rows = await sql<
    {
      psp: string;
      brand: string | null;
      bin_country: string | null;
      currency: string;
      lines: number;
      expected: number;
      actual: number;
    }[]
  >`
    select l.psp, o.brand, o.bin_country, l.currency, count(*)::bigint as lines,
      sum(l.expected_fee)::bigint as expected, sum(l.fee)::bigint as actual
    from settlement_lines l
    join psp_operations o on o.psp = l.psp and o.kind = l.kind and o.psp_reference = l.psp_reference
    where l.kind = 'capture' and l.expected_fee is not null and l.outcome in ('matched', 'fee_variance')
      and l.created_at >= ${q.from} and l.created_at < ${q.to}
      and (${q.psp ?? null}::text is null or l.psp = ${q.psp ?? null})
    group by l.psp, o.brand, o.bin_country, l.currency`;
  const groups = new Map<string, FeeVarianceRow>();
  for (const r of rows) {
    const scheme = r.brand ?? "unknown";
    const region = regionOf(r.bin_country, q.homeCountry);
    const key = `${r.psp}|${scheme}|${region}|${r.currency}`;
    const g = groups.get(key) ?? {
      psp: r.psp,
      scheme,
      region,
      currency: r.currency,
      lines: 0,
      expected: 0,
      actual: 0,
      variance: 0,
      variance_bps: null,
    };
    g.lines += r.lines;
    g.expected += r.expected;
    g.actual += r.actual;
    g.variance = g.actual - g.expected;
    g.variance_bps = g.expected === 0 ? null : Math.round(((g.actual - g.expected) * 10_000) / g.expected);
    groups.set(key, g);
  }
  return [...groups.values()].sort((a, b) =>
    `${a.psp}${a.scheme}${a.region}${a.currency}`.localeCompare(
      `${b.psp}${b.scheme}${b.region}${b.currency}`,
    ),
  );
}

/** The journal entries with `from <= at < to`, in order, a page at a time (flat memory for any size). */
export async function* journal(sql: Sql, from: string, to: string): AsyncGenerator<JournalEntry> {
  let after = 0;
  for (;;) {
    const rows = await sql<
      {
        id: string;
        at: Date;
        kind: JournalEntry["kind"];
        payment_id: string | null;
        currency: string;
        description: string;
        sources: string[];
        n: number;
        postings: JournalEntry["postings"];
      }[]
    >`
      select e.id, e.at, e.kind, e.payment_id, e.currency, e.description, e.sources, e.n,
        (select json_agg(json_build_object('account', p.account, 'debit', p.debit, 'credit', p.credit) order by p.n)
           from ledger_postings p where p.entry_id = e.id) as postings
      from ledger_entries e where e.at >= ${from} and e.at < ${to} and e.n > ${after}
      order by e.n limit 1000`;
    for (const r of rows)
      yield {
        id: r.id,
        at: r.at.toISOString(),
        kind: r.kind,
        paymentId: r.payment_id,
        currency: r.currency,
        description: r.description,
        sources: r.sources,
        postings: r.postings,
      };
    const last = rows.at(-1);
    if (!last || rows.length < 1000) return;
    after = last.n;
  }
}
