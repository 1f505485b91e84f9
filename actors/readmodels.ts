// The read models a worker keeps (PostgreSQL projections of JetStream), and the settlement work
// that follows from them: payments (PAY_EVT), settlement lines and exceptions (SETTLE), resolutions
// and missing-line findings (RECON), the settler, the missing-line sweep and the settlement hook that
// pulls each PSP's new reports; and the expiry of abandoned 3-D Secure challenges, which reads the
// payments read model (actors/expiry.ts). Any number of workers may run them: the followers serialize on the
// database, the settler is one durable consumer, the sweep's findings are deduplicated by id.
import type { Config } from "../config/env.ts";
import type { Logger } from "../config/log.ts";
import type { Metrics } from "../config/metrics.ts";
import { CommandBus } from "../streams/command-bus.ts";
import type { Db, Tx } from "../streams/db/client.ts";
import { Follower, resetOffset, type StreamMsg } from "../streams/db/follower.ts";
import { decodeJson, encode } from "../streams/envelopes.ts";
import type { Infra } from "../streams/infra.ts";
import { reconSubject } from "../streams/topology.ts";
import { ChallengeExpiry } from "./expiry.ts";
import { PAYMENTS_READ_MODEL, paymentsProjection } from "./projections/payments.ts";
import { missing, missingExceptionId } from "./settlement/match.ts";
import type { ReconRecord, SettleRecord } from "./settlement/records.ts";
import { SettlementPuller } from "./settlement/pull.ts";
import { Settler } from "./settlement/settler.ts";
import {
  applyChunk,
  applyRecon,
  applyReport,
  operationOfRow,
  type OperationRow,
} from "./settlement/store.ts";

export const READ_MODELS = [PAYMENTS_READ_MODEL, "settlement", "reconciliation"] as const;
export type ReadModelName = (typeof READ_MODELS)[number];

export type ReadModels = {
  followers: ReadonlyMap<ReadModelName, Follower>;
  /** Resolves when the named read model has applied its stream up to now. */
  caughtUp(name: ReadModelName): Promise<void>;
  /** Run the missing-line sweep now (it also runs on its own timer). */
  sweepMissing(): Promise<number>;
  /** Run the expiry of abandoned challenges now (it also runs on its own timer); how many expired. */
  sweepExpired(): Promise<number>;
  stop(): Promise<void>;
};

export async function startReadModels(
  config: Config,
  infra: Infra,
  db: Db,
  o: { metrics: Metrics; log: Logger; now?: () => Date; settler?: boolean; sandboxUrl?: string },
): Promise<ReadModels> {
  const now = o.now ?? (() => new Date());
  const { js, jsm, topo } = infra;
  const deps = {
    js,
    sql: db.sql,
    log: o.log,
    onApplied: (name: string, _seq: number, time: Date) =>
      o.metrics.readModelLag.set(
        { read_model: name },
        Math.max(0, (now().getTime() - time.getTime()) / 1000),
      ),
  };
  const followers = new Map<ReadModelName, Follower>([
    [PAYMENTS_READ_MODEL, new Follower({ ...paymentsProjection(o.log), stream: topo.eventStream }, deps)],
    [
      "settlement",
      new Follower(
        {
          name: "settlement",
          stream: topo.settleStream,
          batch: 20,
          apply: (tx, msgs) =>
            eachRecord<SettleRecord>(msgs, (r) =>
              r.type === "chunk" ? applyChunk(tx, r) : applyReport(tx, r),
            ),
        },
        deps,
      ),
    ],
    [
      "reconciliation",
      new Follower(
        {
          name: "reconciliation",
          stream: topo.reconStream,
          apply: (tx, msgs) => eachRecord<ReconRecord>(msgs, (r, seq) => applyRecon(tx, r, seq)),
        },
        deps,
      ),
    ],
  ]);
  const started: Array<{ stop(): Promise<void> }> = [];
  let expiry: ChallengeExpiry | undefined;
  try {
    for (const f of followers.values()) {
      await f.start();
      started.push(f);
    }
    if (o.settler !== false) {
      const settler = new Settler({ js, jsm, topo, log: o.log, now });
      await settler.start();
      started.push(settler);
    }
    if (o.sandboxUrl !== undefined && config.settlement.pullEveryMs > 0) {
      const puller = new SettlementPuller({
        js,
        topo,
        sql: db.sql,
        log: o.log,
        metrics: o.metrics,
        now,
        tolerance: {
          minor: config.settlement.feeToleranceMinor,
          percent: config.settlement.feeTolerancePercent,
        },
        sandboxUrl: o.sandboxUrl,
        everyMs: config.settlement.pullEveryMs,
      });
      puller.start();
      started.push(puller);
    }
    const bus = new CommandBus(infra.nc, js, topo, o.log);
    bus.start();
    started.push({ stop: () => bus.close() });
    expiry = new ChallengeExpiry({
      bus,
      sql: db.sql,
      metrics: o.metrics,
      log: o.log,
      now,
      expiryMs: config.challenges.expiryMs,
      everyMs: config.challenges.sweepEveryMs,
    });
    expiry.start();
    started.push(expiry);
  } catch (err) {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    throw err;
  }

  async function sweepMissing(): Promise<number> {
    const days = config.settlement.missingAfterDays;
    const cutoff = new Date(now().getTime() - days * 86_400_000).toISOString();
    const rows = await db.sql<
      OperationRow[]
    >`select o.payment_id, o.merchant_id, o.psp, o.kind, o.operation_id, o.psp_reference, o.amount, o.currency,
        o.expected_fee, o.at
      from psp_operations o
      where o.settled_by is null and o.kind <> 'void' and o.at < ${cutoff}
        and not exists (select 1 from settlement_lines l
          where l.psp = o.psp and l.kind = o.kind and l.psp_reference = o.psp_reference)
        and not exists (select 1 from recon_exceptions x where x.id = 'x_missing_' || o.psp || '_' || o.kind || '_' || o.psp_reference)
      order by o.at limit 1000`;
    const at = now().toISOString();
    for (const r of rows) {
      const op = operationOfRow(r);
      const record: ReconRecord = { type: "missing", v: 1, exception: missing(op, days, at) };
      const id = missingExceptionId(op);
      await js.publish(reconSubject(topo, "missing", id), encode(record), {
        msgID: `missing:${id}`,
        timeout: 10_000,
      });
    }
    if (rows.length > 0)
      o.log.warn(
        { missing: rows.length, days },
        "settlement: captures or refunds in no report; exceptions opened",
      );
    return rows.length;
  }

  const sweepEvery = 60_000;
  let sweeping: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    sweeping ??= Promise.all([sweepMissing(), countOpen(db, o.metrics)])
      .catch((err: unknown) => o.log.warn({ err }, "settlement sweep failed; next round"))
      .finally(() => (sweeping = undefined));
  }, sweepEvery);
  timer.unref();

  return {
    followers,
    async caughtUp(name) {
      const f = followers.get(name);
      if (!f) return;
      const stream =
        name === PAYMENTS_READ_MODEL
          ? topo.eventStream
          : name === "settlement"
            ? topo.settleStream
            : topo.reconStream;
      const info = await jsm.streams.info(stream);
      await f.caughtUp(info.state.last_seq);
    },
    sweepMissing,
    sweepExpired: () => expiry?.sweep() ?? Promise.resolve(0),
    async stop() {
      clearInterval(timer);
      await sweeping;
      for (const s of started.reverse()) await s.stop();
    },
  };
}

async function eachRecord<T>(
  msgs: readonly StreamMsg[],
  apply: (r: T, seq: number) => Promise<void>,
): Promise<void> {
  for (const m of msgs) await apply(decodeJson(m.data) as T, m.seq);
}

async function countOpen(db: Db, metrics: Metrics): Promise<void> {
  const rows = await db.sql<{ kind: string; n: number }[]>`
    select kind, count(*)::bigint as n from recon_exceptions where status = 'open' group by kind`;
  metrics.reconExceptionsOpen.reset();
  for (const r of rows) metrics.reconExceptionsOpen.set({ kind: r.kind }, r.n);
}

/**
 * Empty every read model and put every position back to 0: the followers rebuild all of it — the
 * payments, the settlement lines and exceptions, the ledger journal — from the streams. (They are
 * rebuilt together: the ledger's entries come from all three streams.) Only projections are
 * emptied: the records kept in the same schema (webhook endpoints, events and deliveries) survive.
 */
export async function rebuildReadModels(db: Db): Promise<void> {
  await db.sql.begin(async (tx: Tx) => {
    for (const name of READ_MODELS) await resetOffset(tx, name);
    await tx.unsafe(`truncate payments, psp_operations, settlement_lines, settlement_rejects,
      settlement_reports, recon_exceptions, ledger_postings, ledger_entries`);
  });
}
