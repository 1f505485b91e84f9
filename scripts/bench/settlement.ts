// The settlement section of `npm run bench`: a PSP report of N lines ingested and matched against the
// N payments it names (ingestReport: acme's parser, reconciliation against psp_operations, SETTLE
// chunks, PostgreSQL rows), set against csv-parse alone reading the same file with the parser's own
// options — the ratio is the yardstick (issue: matching costs at most 3× the bare parse), and peak RSS
// with the RSS at 10 / 50 / 100 % of the file shows whether memory stays flat (streaming).
//
// The payments come in as the actor writes them (scripts/bench/settlement-seed.ts: chained frames on
// PAY_EVT) and reach psp_operations through the payments read model (a Follower), whose rate is
// printed too. Bare and product alternate (bare, product, bare, product …); between product rounds
// the settlement tables are emptied and the operations marked unsettled again, outside the timing, so
// every round does the same work (a second report settling the same captures would be all duplicates).
// Everything (streams, schema, report file) is removed at the end, also after a failure.
import { createHash } from "node:crypto";
import { createReadStream, mkdirSync, mkdtempSync, rmSync, statSync, type ReadStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { parse } from "csv-parse";
import { pino } from "pino";
import { createMetrics } from "../../config/metrics.ts";
import { settlementParsers } from "../../actors/psp/settlement/index.ts";
import { ingestReport, type IngestDeps, type IngestResult } from "../../actors/settlement/ingest.ts";
import { dropSchema, openDb, type Db } from "../../streams/db/client.ts";
import { deleteTopology, ensureTopology, topology, type Topology } from "../../streams/topology.ts";
import { projectPayments, runSection, stopIf } from "./section.ts";
import { benchPrefix, TEMP_DIR_PREFIX } from "./cleanup.ts";
import { printSettlement, type Phase, type Rss, type SettlementResult } from "./settlement-report.ts";
import { profiled } from "./settlement-profile.ts";
import { BENCH_PSP, checkSample, seedPayments, writeReport } from "./settlement-seed.ts";

export type SettlementOptions = {
  lines: number;
  rounds: number;
  natsUrl: string;
  dbUrl: string;
  /** Profile the last product round (in-process), summarised by self time. */
  cpuProf: boolean;
  say: (line: string) => void;
  signal: AbortSignal;
};

/** The parser's own csv-parse options (actors/psp/settlement/csv.ts), so the two read alike. */
const CSV_OPTIONS = {
  bom: true,
  info: true,
  relax_column_count: true,
  relax_quotes: true,
  skip_empty_lines: true,
  skip_records_with_error: true,
} as const;
const PUBLISH_WINDOW = 2_000;
const PROJECTION_BATCH = 1_000;
const MB = 1024 * 1024;

export async function benchSettlement(o: SettlementOptions): Promise<SettlementResult> {
  const { say } = o;
  checkSample();
  const prefix = benchPrefix();
  const topo = topology(prefix, 1);
  const dir = mkdtempSync(join(tmpdir(), TEMP_DIR_PREFIX));
  const log = pino({ level: "warn" }, pino.destination(2));
  let nc: NatsConnection | undefined;
  let db: Db | undefined;
  try {
    nc = await connect({ servers: o.natsUrl, name: "switchyard-bench-settlement" });
    const jsm = await jetstreamManager(nc);
    await ensureTopology(jsm, topo);
    const js = jetstream(nc);
    db = await openDb({ url: o.dbUrl, schema: `sy_${prefix}`, max: 4 }, log);

    const file = join(dir, "acme-report.csv");
    let t = performance.now();
    const fileBytes = await writeReport(file, o.lines);
    say(`report written: ${o.lines} lines, ${(fileBytes / MB).toFixed(1)} MB (${ms(t)} ms)`);
    const sha256 = await sha256Of(file);

    say(
      `seeding ${o.lines} captured payments on ${topo.eventStream} (${PUBLISH_WINDOW} publishes in flight)`,
    );
    t = performance.now();
    const lastSeq = await seedPayments(js, topo, o.lines, PUBLISH_WINDOW, every(o.lines, say, "published"));
    const seedMs = performance.now() - t;
    stopIf(o.signal);

    say(`projecting them into payments / psp_operations (batches of ${PROJECTION_BATCH})`);
    t = performance.now();
    const projectionMs = await projectPayments({
      js,
      sql: db.sql,
      log,
      stream: topo.eventStream,
      lastSeq,
      batch: PROJECTION_BATCH,
      say,
      signal: o.signal,
    });
    const [{ n }] = await db.sql<[{ n: number }]>`select count(*)::int as n from psp_operations`;
    if (n !== o.lines) throw new Error(`psp_operations has ${n} rows, expected ${o.lines}`);
    await db.sql`vacuum analyze psp_operations`;

    const deps: IngestDeps = {
      js,
      topo,
      sql: db.sql,
      log,
      metrics: createMetrics(),
      tolerance: { minor: 2, percent: 1 },
      now: () => new Date(),
    };
    const result: SettlementResult = {
      lines: o.lines,
      fileBytes,
      seed: { ms: seedMs, perSecond: (o.lines / seedMs) * 1000 },
      projection: { ms: projectionMs, perSecond: (o.lines / projectionMs) * 1000, batch: PROJECTION_BATCH },
      bare: [],
      product: [],
      outcome: undefined,
      profile: undefined,
    };
    for (let round = 1; round <= o.rounds; round++) {
      stopIf(o.signal);
      const bare = await phase(file, (input) => bareParse(input));
      result.bare.push(bare);
      say(`round ${round} bare: ${rate(bare)} lines/s, peak RSS ${bare.rss.peak.toFixed(0)} MB`);
      stopIf(o.signal);
      if (round > 1) await reset(db, jsm, topo);
      const ingest = (input: ReadStream) =>
        ingestReport(deps, {
          psp: BENCH_PSP,
          reportId: `bench_r${round}`,
          sha256,
          input,
          parse: settlementParsers.acme!,
          source: "upload",
          operator: "bench",
        });
      let outcome: IngestResult | undefined;
      const product = await phase(file, async (input) => {
        if (!(o.cpuProf && round === o.rounds)) outcome = await ingest(input);
        else {
          const profDir = join(tmpdir(), "switchyard-prof");
          mkdirSync(profDir, { recursive: true });
          const profFile = join(profDir, `settlement-${prefix}.cpuprofile`);
          const [r, summary] = await profiled(profFile, () => ingest(input));
          outcome = r;
          result.profile = summary;
        }
        return outcome.lines;
      });
      result.product.push(product);
      result.outcome = outcome;
      say(
        `round ${round} product: ${rate(product)} lines/s, peak RSS ${product.rss.peak.toFixed(0)} MB, ` +
          `${outcome?.matched} matched, ${outcome?.exceptions} exceptions, ${outcome?.rejected} rejected`,
      );
      if (outcome?.matched !== o.lines)
        throw new Error(`expected ${o.lines} matched lines: ${JSON.stringify(outcome)}`);
    }
    return result;
  } finally {
    const problems: string[] = [];
    const step = async (what: string, f: () => Promise<unknown> | void) =>
      Promise.resolve()
        .then(f)
        .catch((err: unknown) => problems.push(`${what}: ${String(err)}`));
    await step("database", () => db?.close());
    await step("schema", () => dropSchema(o.dbUrl, `sy_${prefix}`));
    await step("streams", async () => nc && deleteTopology(await jetstreamManager(nc), topo));
    await step("NATS", () => nc?.close());
    await step("temp dir", () => rmSync(dir, { recursive: true, force: true }));
    for (const p of problems) say(`settlement cleanup failed: ${p}`);
  }
}

/** csv-parse alone, consumed the way the product's parser consumes it: records counted, no header. */
async function bareParse(input: ReadStream): Promise<number> {
  const parser = parse(CSV_OPTIONS);
  pipeline(input, parser, () => undefined);
  let records = 0;
  for await (const _ of parser as AsyncIterable<unknown>) records++;
  return records - 1;
}

/** One timed pass over the file, RSS sampled every 100 ms against how much of the file was read. */
async function phase(file: string, run: (input: ReadStream) => Promise<number>): Promise<Phase> {
  const size = statSync(file).size;
  const input = createReadStream(file, { highWaterMark: 256 * 1024 });
  const mb = () => process.memoryUsage.rss() / MB;
  const rss: Rss = { before: mb(), at10: NaN, at50: NaN, at100: NaN, peak: 0 };
  const sample = () => {
    const now = mb();
    const read = input.bytesRead / size;
    rss.peak = Math.max(rss.peak, now);
    if (read >= 0.1 && Number.isNaN(rss.at10)) rss.at10 = now;
    if (read >= 0.5 && Number.isNaN(rss.at50)) rss.at50 = now;
  };
  const timer = setInterval(sample, 100);
  const cpu = process.cpuUsage();
  const t = performance.now();
  try {
    const lines = await run(input);
    const elapsed = performance.now() - t;
    const used = process.cpuUsage(cpu);
    sample();
    rss.at100 = mb();
    return { ms: elapsed, cpuMs: (used.user + used.system) / 1000, lines, rss };
  } finally {
    clearInterval(timer);
    input.destroy();
  }
}

/** The settlement read models back to before the ingest, and the SETTLE stream emptied. */
async function reset(db: Db, jsm: Awaited<ReturnType<typeof jetstreamManager>>, topo: Topology) {
  await db.sql`truncate settlement_lines, settlement_rejects, recon_exceptions, settlement_reports`;
  await db.sql`update psp_operations set settled_by = null where settled_by is not null`;
  await db.sql`vacuum analyze psp_operations`;
  await jsm.streams.purge(topo.settleStream);
}

async function sha256Of(file: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest("hex");
}

const ms = (since: number) => Math.round(performance.now() - since);
const rate = (p: Phase) => Math.round((p.lines / p.ms) * 1000).toLocaleString("en");
const every = (total: number, say: (l: string) => void, what: string) => {
  let next = 0;
  return (done: number) => {
    if (done < next) return;
    next = done + Math.max(1, Math.floor(total / 5));
    say(`  ${what} ${done} / ${total}`);
  };
};

/** The section as `npm run bench` runs it: after the flows (their servers gone), or alone. */
export async function settlementSection(o: {
  lines: number;
  rounds: number;
  cpuProf: boolean;
  say: (line: string) => void;
}): Promise<number> {
  return runSection(o.say, async ({ natsUrl, dbUrl, signal }) => {
    o.say(`settlement: ${o.lines} lines, ${o.rounds} round(s)${o.cpuProf ? ", last ingest profiled" : ""}`);
    const result = await benchSettlement({ ...o, natsUrl, dbUrl, signal });
    printSettlement(result);
  });
}
