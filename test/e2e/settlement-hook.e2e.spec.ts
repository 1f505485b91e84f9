// The settlement hook (reports pulled from each PSP on an interval) and an ingest killed mid-way then
// retried: nothing lost, nothing twice — every line once in the read model, every payment settled once.
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { expect } from "chai";
import { pino } from "pino";
import { settlementParsers } from "../../actors/psp/settlement/index.ts";
import { ingestReport } from "../../actors/settlement/ingest.ts";
import { createMetrics } from "../../config/metrics.ts";
import { openDb } from "../../streams/db/client.ts";
import { topology } from "../../streams/topology.ts";
import { DATABASE_URL, NATS_URL } from "../support/infra.ts";
import { paymentBody, startTestPlatform, testEnv, type TestPlatform } from "../support/platform.ts";
import { parseMetrics, series } from "../support/prometheus.ts";
import { waitFor } from "../support/wait.ts";

type Closed = { report_id: string; url: string; lines: number };

async function closeBatch(platform: TestPlatform, psp: string): Promise<Closed & { csv: string }> {
  await platform.readModels!.caughtUp("payments");
  const res = await fetch(`${platform.sandbox!.url}/_sandbox/psps/${psp}/settlements`, { method: "POST" });
  expect(res.status).to.equal(201);
  const closed = (await res.json()) as Closed;
  const csv = await (await fetch(`${platform.sandbox!.url}${closed.url}`)).text();
  return { ...closed, csv };
}

async function payMany(platform: TestPlatform, n: number): Promise<string[]> {
  const api = platform.api(platform.merchants[0]!);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await api.post("/v1/payments", paymentBody({ amount: 1_000 + i, capture: "automatic" }));
    expect(res.status).to.equal(201);
    ids.push(res.body.id);
  }
  return ids;
}

describe("the settlement hook (e2e)", function () {
  this.timeout(60_000);
  let platform: TestPlatform;
  before(async () => {
    platform = await startTestPlatform({ env: testEnv({ SWITCHYARD_SETTLEMENT_PULL_MS: "100" }) });
  });
  after(async () => platform?.cleanup());

  it("takes in each PSP's closed reports on its own, once", async () => {
    await payMany(platform, 3);
    const batch = await closeBatch(platform, "acme");
    type Report = { report_id: string; source: string; lines: number; matched: number; exceptions: number };
    const report = await waitFor(
      async () => {
        const res = await platform.ops.get<{ reports: Report[] }>("/ops/settlements/reports?psp=acme");
        return res.body.reports.find((r) => r.report_id === batch.report_id);
      },
      { timeoutMs: 15_000, what: "the pulled report" },
    );
    expect(report).to.deep.include({
      source: "pull",
      lines: batch.lines,
      matched: batch.lines,
      exceptions: 0,
    });
    // Later rounds see it taken in and leave it: a second batch, closed once the first is taken in,
    // is pulled by a later round, which must not take the first in again (not even as a replay).
    await payMany(platform, 2);
    const second = await closeBatch(platform, "acme");
    await waitFor(
      async () => {
        const res = await platform.ops.get<{ reports: Report[] }>("/ops/settlements/reports?psp=acme");
        return res.body.reports.some((r) => r.report_id === second.report_id);
      },
      { timeoutMs: 15_000, what: "the second pulled report" },
    );
    const all = await platform.ops.get<{ reports: Report[] }>("/ops/settlements/reports?psp=acme");
    expect(all.body.reports.filter((r) => r.report_id === batch.report_id)).to.have.length(1);
    // The ingest applies a report to the read model before the hook counts it: the list can show the
    // second report a moment before the count has it (a CI run read { ingested: 1 } there).
    const pulled = await waitFor(
      async () => {
        const exposition = parseMetrics(await platform.metrics.registry.metrics());
        const byResult: Record<string, number> = Object.fromEntries(
          series(exposition, "switchyard_settlement_reports_total", { psp: "acme", source: "pull" }).map(
            (p) => [String(p.labels.result), Number(p.value)],
          ),
        );
        return (byResult.ingested ?? 0) >= 2 ? byResult : undefined;
      },
      { timeoutMs: 15_000, what: "the second report counted" },
    );
    expect(pulled).to.deep.equal({ ingested: 2 });
  });
});

describe("an ingest killed mid-way (e2e)", function () {
  this.timeout(60_000);
  let platform: TestPlatform;
  before(async () => {
    platform = await startTestPlatform();
  });
  after(async () => platform?.cleanup());

  it("retried, loses and duplicates nothing", async () => {
    const ids = await payMany(platform, 24);
    const batch = await closeBatch(platform, "acme");
    const prefix = platform.env.SWITCHYARD_PREFIX!;
    const nc = await connect({ servers: NATS_URL });
    const db = await openDb(
      { url: DATABASE_URL, schema: `sy_${prefix.toLowerCase()}`, max: 2 },
      pino({ level: "silent" }),
    );
    try {
      const deps = {
        js: jetstream(nc),
        topo: topology(prefix, 4),
        sql: db.sql,
        log: pino({ level: "silent" }),
        metrics: createMetrics(),
        tolerance: { minor: 5, percent: 10 },
        now: () => new Date(),
        chunkLines: 4,
      };
      const bytes = Buffer.from(batch.csv);
      const sha256 = createHash("sha256").update(bytes).digest("hex");
      const req = {
        psp: "acme",
        reportId: batch.report_id,
        sha256,
        parse: settlementParsers.acme!,
        source: "upload" as const,
        operator: "test",
      };
      // The process dies after 60 % of the file, once the ingest has recorded part of it: the stream
      // fails under the ingest when the first chunk's lines are in the read model, not after a pace.
      const cut = Math.floor(bytes.length * 0.6);
      const recorded = async () =>
        (await db.sql<{ n: number }[]>`select count(*)::int as n from settlement_lines`)[0]!.n;
      const dying = Readable.from(
        (async function* () {
          for (let at = 0; at < cut; at += 256) yield bytes.subarray(at, Math.min(at + 256, cut));
          await waitFor(async () => (await recorded()) > 0, {
            timeoutMs: 15_000,
            what: "the ingest to record its first chunk",
          });
          throw new Error("killed");
        })(),
      );
      let failed: unknown;
      await ingestReport(deps, { ...req, input: dying }).catch((err: unknown) => (failed = err));
      expect(String(failed), String(failed)).to.include("killed");
      expect(await recorded())
        .to.be.greaterThan(0)
        .and.lessThan(batch.lines);

      const retried = await ingestReport(deps, { ...req, input: Readable.from([bytes]) });
      expect(retried).to.deep.include({
        lines: batch.lines,
        matched: batch.lines,
        exceptions: 0,
        rejected: 0,
        replayed: false,
      });
      const lines = await db.sql<{ n: number; distinct_ids: number }[]>`
        select count(*)::bigint as n, count(distinct line_id)::bigint as distinct_ids from settlement_lines`;
      expect(lines[0]).to.deep.equal({ n: batch.lines, distinct_ids: batch.lines });
      const exceptions = await db.sql<{ n: number }[]>`select count(*)::bigint as n from recon_exceptions`;
      expect(exceptions[0]!.n).to.equal(0);
      // Every payment is settled once in its own history, however often its line was sent.
      const api = platform.api(platform.merchants[0]!);
      for (const id of ids) {
        const settled = await waitFor(
          async () => {
            const s = (await api.get(`/v1/payments/${id}`)).body.settlements ?? [];
            return s.length > 0 && s;
          },
          { timeoutMs: 15_000, what: `the settlement of ${id}` },
        );
        expect(settled).to.have.length(1);
      }
      const again = await ingestReport(deps, { ...req, input: Readable.from([bytes]) });
      expect(again.replayed).to.equal(true);
    } finally {
      await db.close();
      await nc.close();
    }
  });
});
