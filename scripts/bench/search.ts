// The search section of `npm run bench` (issue: search and timeline answer in p99 < 50 ms with
// 1,000,000 payments in the projection; the projection rebuilds from JetStream at a rate printed
// beside the raw read rate of the same stream, in the same run).
//
// 1. N payment rows written straight into the payments table in SQL (scripts/bench/search-seed.ts),
//    then searchPayments itself — the operators' filters, each followed by its second page through
//    the cursor — and stuckPayments, timed one call at a time, p50/p95/p99 per filter.
// 2. M payments as the actor writes them on PAY_EVT (scripts/bench/settlement-seed.ts, one chained
//    frame of 4 events each); the first K get settlement lines, and timeline() reads random ones of
//    them from the stream and the read models.
// 3. The raw read rate of that stream (an ordered consumer counting, nothing else) and the payments
//    projection rebuilt from position 0 (a Follower, as the worker runs it) over the same M frames,
//    raw read before and after the rebuild so a change in the machine's load shows.
// Everything (streams, schema) is removed at the end, also after a failure.
import { jetstream, jetstreamManager, DeliverPolicy, type JetStreamClient } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { createMetrics } from "../../config/metrics.ts";
import { PAYMENTS_BATCH, PAYMENTS_READ_MODEL } from "../../actors/projections/payments.ts";
import { searchPayments, stuckPayments, type SearchFilter } from "../../actors/projections/search.ts";
import { timeline } from "../../actors/projections/timeline.ts";
import { dropSchema, openDb, type Db } from "../../streams/db/client.ts";
import { resetOffset } from "../../streams/db/follower.ts";
import { EventStore } from "../../streams/event-store.ts";
import { deleteTopology, ensureTopology, topology } from "../../streams/topology.ts";
import { projectPayments, runSection, stopIf } from "./section.ts";
import { benchPrefix } from "./cleanup.ts";
import { summarize, type Latency } from "./load.ts";
import { checkSample, paymentId, seedPayments } from "./settlement-seed.ts";
import {
  CURRENCIES,
  LAST4S,
  PSPS,
  SEED_DAYS,
  SEED_END,
  merchantOf,
  referenceOf,
  seedPaymentRows,
  seedSettlementLines,
} from "./search-seed.ts";

export type SearchBenchOptions = {
  /** Rows in the payments table for the search. */
  payments: number;
  /** Searches timed (each a first page and, when there is one, the second: two calls). */
  searches: number;
  /** Payments on PAY_EVT (one frame each): what the raw read and the rebuild go through. */
  frames: number;
  /** The first K of them have settlement lines; timeline() reads random ones of these. */
  timelinePayments: number;
  timelineReads: number;
  natsUrl: string;
  dbUrl: string;
  say: (line: string) => void;
  signal: AbortSignal;
};

export type SearchResult = {
  payments: number;
  seedMs: number;
  search: { all: Latency; byKind: Record<FilterKind, Latency> };
  stuck: { latency: Latency; found: number };
  timeline: { payments: number; reads: number; latency: Latency };
  frames: number;
  publishPerSecond: number;
  rawReadPerSecond: number[];
  rebuild: { ms: number; perSecond: number; batch: number };
};

const FILTER_KINDS = [
  "merchant",
  "merchant+status",
  "reference",
  "last4+currency",
  "amount range",
  "created range",
  "psp+status",
] as const;
type FilterKind = (typeof FILTER_KINDS)[number];
const STATUSES = ["captured", "authorized", "declined", "failed", "refunded"] as const;
/** The console's page size. */
const PAGE = 50;
const PUBLISH_WINDOW = 2_000;

/** A fixed-seed generator (mulberry32): the same mix of filters in every run. */
function rng(seed: number): (below: number) => number {
  let a = seed >>> 0;
  return (below) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * below);
  };
}

/** What an operator types for one kind of search, with values drawn from what was seeded. */
function filterOf(kind: FilterKind, pick: (below: number) => number, n: number): SearchFilter {
  const one = <T>(xs: readonly T[]): T => xs[pick(xs.length)]!;
  switch (kind) {
    case "merchant":
      return { merchant: merchantOf(pick(50)), limit: PAGE };
    case "merchant+status":
      return { merchant: merchantOf(pick(50)), status: one(STATUSES), limit: PAGE };
    case "reference":
      return { reference: referenceOf(1 + pick(n)), limit: PAGE };
    case "last4+currency":
      return { last4: one(LAST4S), currency: one(CURRENCIES), limit: PAGE };
    case "amount range": {
      // "between 100.00 and 150.00": a band of 50 units somewhere in 1.00 .. 10,000.00.
      const min = 100 + pick(995_000);
      return { amountMin: min, amountMax: min + 5_000, limit: PAGE };
    }
    case "created range": {
      const from = SEED_END.getTime() - (1 + pick(SEED_DAYS - 1)) * 86_400_000;
      return {
        createdFrom: new Date(from).toISOString(),
        createdTo: new Date(from + 86_400_000).toISOString(),
        limit: PAGE,
      };
    }
    case "psp+status":
      return { psp: one(PSPS), status: one(STATUSES), limit: PAGE };
    default: {
      const never: never = kind;
      throw new Error(`unknown filter kind ${String(never)}`);
    }
  }
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await f();
  return [r, performance.now() - t];
}

async function benchQueries(db: Db, o: SearchBenchOptions): Promise<SearchResult["search"]> {
  const pick = rng(42);
  const samples = new Map<FilterKind, number[]>(FILTER_KINDS.map((k) => [k, []]));
  // Warm-up: connections open, statements prepared, the table's pages in the cache as an operator's
  // long-running console would find them. Then the measured mix, kinds interleaved.
  for (let i = 0; i < 70 + o.searches; i++) {
    const kind = FILTER_KINDS[i % FILTER_KINDS.length]!;
    const f = filterOf(kind, pick, o.payments);
    const [first, ms1] = await timed(() => searchPayments(db.sql, f));
    const times = [ms1];
    if (first.nextCursor !== null) {
      const cursor = first.nextCursor;
      times.push((await timed(() => searchPayments(db.sql, { ...f, cursor })))[1]);
    }
    if (i >= 70) samples.get(kind)!.push(...times);
    if (i % 500 === 0) stopIf(o.signal);
  }
  const byKind = Object.fromEntries(FILTER_KINDS.map((k) => [k, summarize(samples.get(k)!)])) as Record<
    FilterKind,
    Latency
  >;
  return { all: summarize([...samples.values()].flat()), byKind };
}

/** An ordered consumer reading the whole stream and counting: the floor any follower of it sits on. */
async function rawRead(js: JetStreamClient, stream: string, total: number): Promise<number> {
  const t = performance.now();
  const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume({ max_messages: 1024 });
  let n = 0;
  try {
    for await (const _ of messages) if (++n >= total) break;
  } finally {
    await messages.close();
  }
  if (n !== total) throw new Error(`raw read saw ${n} of ${total} messages`);
  return (total / (performance.now() - t)) * 1000;
}

export async function benchSearch(o: SearchBenchOptions): Promise<SearchResult> {
  const { say } = o;
  checkSample();
  const prefix = benchPrefix();
  const topo = topology(prefix, 1);
  const log = pino({ level: "warn" }, pino.destination(2));
  let nc: NatsConnection | undefined;
  let db: Db | undefined;
  try {
    nc = await connect({ servers: o.natsUrl, name: "switchyard-bench-search" });
    const jsm = await jetstreamManager(nc);
    await ensureTopology(jsm, topo);
    const js = jetstream(nc);
    db = await openDb({ url: o.dbUrl, schema: `sy_${prefix}`, max: 4 }, log);

    say(`seeding ${o.payments} payment rows in SQL`);
    let t = performance.now();
    await seedPaymentRows(db.sql, o.payments);
    const seedMs = performance.now() - t;
    say(`  seeded and analyzed in ${(seedMs / 1000).toFixed(1)} s`);
    stopIf(o.signal);

    say(`searching: ${o.searches} searches of ${FILTER_KINDS.length} kinds, each with its second page`);
    const search = await benchQueries(db, o);
    const now = new Date(SEED_END.getTime() + 86_400_000);
    const stuckMs: number[] = [];
    let found = 0;
    for (let i = 0; i < 6; i++) {
      const [rows, took] = await timed(() => stuckPayments(db!.sql, 300, now, 100));
      if (i > 0) stuckMs.push(took); // the first warms up
      found = rows.length;
    }
    stopIf(o.signal);

    say(`publishing ${o.frames} payments on ${topo.eventStream} (one 4-event frame each)`);
    t = performance.now();
    const lastSeq = await seedPayments(js, topo, o.frames, PUBLISH_WINDOW);
    const publishPerSecond = (o.frames / (performance.now() - t)) * 1000;
    await seedSettlementLines(db.sql, o.timelinePayments);
    stopIf(o.signal);

    say(`timeline: ${o.timelineReads} reads of random payments among the first ${o.timelinePayments}`);
    const store = new EventStore(js, jsm, topo, createMetrics());
    const pick = rng(7);
    const timelineMs: number[] = [];
    for (let i = 0; i < 50 + o.timelineReads; i++) {
      const id = paymentId(1 + pick(o.timelinePayments));
      const [tl, took] = await timed(() => timeline(store, db!.sql, id));
      if (tl?.events.length !== 4 || tl.settlement_lines.length !== 2)
        throw new Error(`timeline of ${id} is not the seeded one: ${JSON.stringify(tl)?.slice(0, 200)}`);
      if (i >= 50) timelineMs.push(took);
    }
    stopIf(o.signal);

    say(`raw read of ${lastSeq} frames`);
    const rawReadPerSecond = [await rawRead(js, topo.eventStream, lastSeq)];
    say(`  ${Math.round(rawReadPerSecond[0]!)} frames/s; rebuilding the payments projection from 0`);
    await db.sql.begin(async (tx) => {
      await resetOffset(tx, PAYMENTS_READ_MODEL);
      await tx`truncate payments, psp_operations, ledger_postings, ledger_entries`;
    });
    const rebuildMs = await projectPayments({
      js,
      sql: db.sql,
      log,
      stream: topo.eventStream,
      lastSeq,
      say,
      signal: o.signal,
    });
    const [{ n }] = await db.sql<[{ n: number }]>`select count(*)::int as n from payments`;
    if (n !== o.frames) throw new Error(`payments has ${n} rows after the rebuild, expected ${o.frames}`);
    rawReadPerSecond.push(await rawRead(js, topo.eventStream, lastSeq));

    return {
      payments: o.payments,
      seedMs,
      search,
      stuck: { latency: summarize(stuckMs), found },
      timeline: { payments: o.timelinePayments, reads: o.timelineReads, latency: summarize(timelineMs) },
      frames: lastSeq,
      publishPerSecond,
      rawReadPerSecond,
      rebuild: { ms: rebuildMs, perSecond: (lastSeq / rebuildMs) * 1000, batch: PAYMENTS_BATCH },
    };
  } finally {
    const problems: string[] = [];
    const step = async (what: string, g: () => Promise<unknown> | void) =>
      Promise.resolve()
        .then(g)
        .catch((err: unknown) => problems.push(`${what}: ${String(err)}`));
    await step("database", () => db?.close());
    await step("schema", () => dropSchema(o.dbUrl, `sy_${prefix}`));
    await step("streams", async () => nc && deleteTopology(await jetstreamManager(nc), topo));
    await step("NATS", () => nc?.close());
    for (const p of problems) say(`search cleanup failed: ${p}`);
  }
}

const f1 = (x: number) => x.toFixed(1);
const lat = (l: Latency) => `${f1(l.p50)} / ${f1(l.p95)} / ${f1(l.p99)} ms (max ${f1(l.max)})`;
const perS = (x: number) => Math.round(x).toLocaleString("en");

export function printSearch(r: SearchResult): void {
  const out: string[] = [
    "",
    `Search, timeline and rebuild — ${r.payments.toLocaleString("en")} payments in the projection (seeded in ${f1(r.seedMs / 1000)} s)`,
    `  search, all kinds, p50 / p95 / p99: ${lat(r.search.all)}  (target p99 < 50 ms)`,
    ...FILTER_KINDS.map((k) => `    ${k.padEnd(16)} ${lat(r.search.byKind[k])}`),
    `  stuck (older than 300 s, 100 at most; ${r.stuck.found} found): ${lat(r.stuck.latency)}`,
    `  timeline (${r.timeline.reads} reads of ${r.timeline.payments} payments): ${lat(r.timeline.latency)}`,
    `  PAY_EVT: ${r.frames.toLocaleString("en")} frames published at ${perS(r.publishPerSecond)} /s`,
    `  raw read (ordered consumer, counting): ${r.rawReadPerSecond.map(perS).join(" then ")} frames/s`,
    `  payments projection rebuilt from 0: ${perS(r.rebuild.perSecond)} frames/s (${f1(r.rebuild.ms / 1000)} s, batches of ${r.rebuild.batch})`,
    `  rebuild ÷ raw read: ${(r.rebuild.perSecond / Math.max(...r.rawReadPerSecond)).toFixed(3)}`,
  ];
  process.stdout.write(`${out.join("\n")}\n`);
  process.stdout.write(`BENCH_SEARCH_RESULT ${JSON.stringify(r)}\n`);
}

/** The section as `npm run bench` runs it: after the flows and settlement (their servers gone), or alone. */
export async function searchSection(o: {
  payments: number;
  searches: number;
  say: (line: string) => void;
}): Promise<number> {
  return runSection(o.say, async ({ natsUrl, dbUrl, signal }) => {
    const result = await benchSearch({
      payments: o.payments,
      searches: o.searches,
      frames: 200_000,
      timelinePayments: 2_000,
      timelineReads: 1_000,
      natsUrl,
      dbUrl,
      say: o.say,
      signal,
    });
    printSearch(result);
  });
}
