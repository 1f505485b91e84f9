// The read models a worker keeps (PostgreSQL projections of JetStream), and the settlement work
// that follows from them: payments (PAY_EVT), settlement lines and exceptions (SETTLE), resolutions
// and missing-line findings (RECON), the settler, the missing-line sweep and the settlement hook that
// pulls each PSP's new reports. Any number of workers may run them: the followers serialize on the
// database, the settler is one durable consumer, the sweep's findings are deduplicated by id. (The
// expiry of abandoned challenges reads the payments read model but sends commands: it is composed
// with the projections, actors/projector-role.ts.)
import type { z } from "zod";
import type { Config } from "../config/env.ts";
import type { Logger } from "../config/log.ts";
import type { Metrics } from "../config/metrics.ts";
import type { Db, Tx } from "../streams/db/client.ts";
import { announceReset, Follower, resetOffset, type StreamMsg } from "../streams/db/follower.ts";
import { clearSetAside, PoisonFrameError } from "../streams/db/set-aside.ts";
import { decodeJson, encode } from "../streams/envelopes.ts";
import type { Infra } from "../streams/infra.ts";
import { reconSubject, type Topology } from "../streams/topology.ts";
import { PAYMENTS_READ_MODEL, paymentsProjection } from "./projections/payments.ts";
import { missing, missingExceptionId } from "./settlement/core/match.ts";
import { ReconRecord, SettleRecord } from "./settlement/records.ts";
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
  /** Measure each read model's lag from its stream's head now (it also runs on its own timer). */
  measureLag(): Promise<void>;
  stop(): Promise<void>;
};

export async function startReadModels(
  config: Config,
  infra: Infra,
  db: Db,
  o: {
    metrics: Metrics;
    log: Logger;
    now?: () => Date;
    settler?: boolean;
    sandboxUrl?: string;
    /** How often the lag from each stream's head is measured (default 5 s). */
    lagEveryMs?: number;
  },
): Promise<ReadModels> {
  const now = o.now ?? (() => new Date());
  const { js, jsm, topo } = infra;
  const deps = {
    js,
    sql: db.sql,
    log: o.log,
    onSetAside: (name: string) => o.metrics.followerSetAside.inc({ follower: name }),
    stalls: o.metrics,
  };
  infra.eventTap.countStallsIn(o.metrics);
  const followers = new Map<ReadModelName, Follower>([
    [
      PAYMENTS_READ_MODEL,
      new Follower({ ...paymentsProjection(o.log, infra.eventTap), stream: topo.eventStream }, deps),
    ],
    [
      "settlement",
      new Follower(
        {
          name: "settlement",
          stream: topo.settleStream,
          batch: 20,
          apply: (tx, msgs) =>
            eachRecord(SettleRecord, msgs, (r) =>
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
          apply: (tx, msgs) => eachRecord(ReconRecord, msgs, (r, seq) => applyRecon(tx, r, seq)),
        },
        deps,
      ),
    ],
  ]);
  // Every follower's count exported from 0, so that the first frame set aside is an increase.
  for (const name of followers.keys()) o.metrics.followerSetAside.inc({ follower: name }, 0);
  const started: Array<{ stop(): Promise<void> }> = [];
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
  } catch (err) {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    throw err;
  }

  const lag = { db, jsm, topo, followers, metrics: o.metrics, now };
  const sweep = { db, js, topo, days: config.settlement.missingAfterDays, log: o.log, now };
  const lagTimer = every(o.lagEveryMs ?? 5_000, () => measureLag(lag), o.log, "read model lag not measured");
  const sweepTimer = every(
    60_000,
    () => Promise.all([sweepMissing(sweep), countOpen(db, o.metrics)]),
    o.log,
    "settlement sweep failed",
  );

  return {
    followers,
    async caughtUp(name) {
      const f = followers.get(name);
      if (!f) return;
      const info = await jsm.streams.info(streamOf(topo, name));
      await f.caughtUp(info.state.last_seq);
    },
    sweepMissing: () => sweepMissing(sweep),
    measureLag: () => measureLag(lag),
    async stop() {
      await lagTimer.stop();
      await sweepTimer.stop();
      for (const s of started.reverse()) await s.stop();
    },
  };
}

/** `run` every `ms` (never two at once), its failure logged as `what`; stop() waits for a run in progress. */
function every(
  ms: number,
  run: () => Promise<unknown>,
  log: Logger,
  what: string,
): { stop(): Promise<void> } {
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    running ??= run()
      .catch((err: unknown) => log.warn({ err }, `${what}; next round`))
      .finally(() => (running = undefined));
  }, ms);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

type SweepDeps = {
  db: Db;
  js: Infra["js"];
  topo: Topology;
  days: number;
  log: Logger;
  now: () => Date;
};

/** Captures and refunds in no PSP report after `days`: a `missing` exception each (deduplicated by id). */
async function sweepMissing(d: SweepDeps): Promise<number> {
  const cutoff = new Date(d.now().getTime() - d.days * 86_400_000).toISOString();
  const rows = await d.db.sql<
    OperationRow[]
  >`select o.payment_id, o.merchant_id, o.psp, o.kind, o.operation_id, o.psp_reference, o.amount, o.currency,
      o.expected_fee, o.at
    from psp_operations o
    where o.settled_by is null and o.kind <> 'void' and o.at < ${cutoff}
      and not exists (select 1 from settlement_lines l
        where l.psp = o.psp and l.kind = o.kind and l.psp_reference = o.psp_reference)
      and not exists (select 1 from recon_exceptions x where x.id = 'x_missing_' || o.psp || '_' || o.kind || '_' || o.psp_reference)
    order by o.at limit 1000`;
  const at = d.now().toISOString();
  for (const r of rows) {
    const op = operationOfRow(r);
    const record: ReconRecord = { type: "missing", v: 1, exception: missing(op, d.days, at) };
    const id = missingExceptionId(op);
    await d.js.publish(reconSubject(d.topo, "missing", id), encode(record), {
      msgID: `missing:${id}`,
      timeout: 10_000,
    });
  }
  if (rows.length > 0)
    d.log.warn(
      { missing: rows.length, days: d.days },
      "settlement: captures or refunds in no report; exceptions opened",
    );
  return rows.length;
}

type LagDeps = {
  db: Db;
  jsm: Infra["jsm"];
  topo: Topology;
  followers: ReadonlyMap<ReadModelName, Follower>;
  metrics: Metrics;
  now: () => Date;
};

/**
 * Lag from the stream's head, not from what was applied: the age of the oldest message past the
 * read model's position (0 at the head), and how many messages that is. A follower that stopped
 * shows a lag that grows. The position is the database's (every worker agrees); this process's
 * own when the database does not answer.
 */
async function measureLag(d: LagDeps): Promise<void> {
  const offsets = new Map<string, number>();
  try {
    const rows = await d.db.sql<{ name: string; last_seq: number }[]>`
      select name, last_seq from projection_offsets where name = any(${[...READ_MODELS]})`;
    for (const r of rows) offsets.set(r.name, r.last_seq);
  } catch {
    for (const [name, f] of d.followers) offsets.set(name, f.position);
  }
  for (const name of d.followers.keys()) {
    const stream = streamOf(d.topo, name);
    const info = await d.jsm.streams.info(stream);
    const position = offsets.get(name) ?? 0;
    const behind = Math.max(0, info.state.last_seq - position);
    let lag = 0;
    if (behind > 0) {
      const next = Math.max(position + 1, info.state.first_seq);
      const oldest = await d.jsm.streams.getMessage(stream, { seq: next }).catch(() => null);
      const at = oldest?.time ?? new Date(info.state.first_ts);
      lag = Math.max(0, (d.now().getTime() - at.getTime()) / 1000);
    }
    d.metrics.readModelLag.set({ read_model: name }, lag);
    d.metrics.readModelBehind.set({ read_model: name }, behind);
  }
}

/** The stream a read model follows. */
export function streamOf(topo: Topology, name: ReadModelName): string {
  return name === PAYMENTS_READ_MODEL
    ? topo.eventStream
    : name === "settlement"
      ? topo.settleStream
      : topo.reconStream;
}

/** Each message parsed with its registered schema (gateway/contract/registry.ts): one that is not is set aside. */
async function eachRecord<T>(
  schema: z.ZodType<T>,
  msgs: readonly StreamMsg[],
  apply: (r: T, seq: number) => Promise<void>,
): Promise<void> {
  for (const m of msgs) {
    let json: unknown;
    try {
      json = decodeJson(m.data);
    } catch (err) {
      throw new PoisonFrameError("undecodable", `message ${m.seq} is not JSON`, { cause: err });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success)
      throw new PoisonFrameError("undecodable", `message ${m.seq} is not a record of this stream`, {
        cause: parsed.error,
      });
    await apply(parsed.data, m.seq);
  }
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
 * `heads` (each stream's last sequence now) is what each must reach again: until then it answers
 * `rebuilding` (GET /ops/read-models; the trial balance and the export answer 503). The frames these
 * read models set aside are forgotten: the replay sets aside again what still cannot be applied.
 */
export async function rebuildReadModels(
  db: Db,
  heads: Partial<Record<ReadModelName, number>> = {},
): Promise<void> {
  await db.sql.begin(async (tx: Tx) => {
    for (const name of READ_MODELS) await resetOffset(tx, name, heads[name] ?? null);
    await clearSetAside(tx, READ_MODELS);
    await tx.unsafe(`truncate payments, psp_operations, settlement_lines, settlement_rejects,
      settlement_reports, recon_exceptions, ledger_postings, ledger_entries`);
  });
  // This process's followers start over now; other processes' within OFFSET_WATCH_MS.
  announceReset();
}

/** Each read model's stream's last sequence: what a rebuild asked for now must reach. */
export async function streamHeads(jsm: Infra["jsm"], topo: Topology): Promise<Record<ReadModelName, number>> {
  const heads = {} as Record<ReadModelName, number>;
  for (const name of READ_MODELS) heads[name] = (await jsm.streams.info(streamOf(topo, name))).state.last_seq;
  return heads;
}
