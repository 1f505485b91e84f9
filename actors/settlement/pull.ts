// The settlement hook: on an interval, each PSP's list of closed settlement reports is fetched and
// every report not taken in yet is downloaded (spooled and hashed) and ingested. Here the PSPs are
// the sandbox's (GET /_sandbox/psps/{psp}/settlements); a real PSP's report API would sit behind the
// same two calls. A report that fails is tried again at the next round; a replay changes nothing.
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { request } from "undici";
import { settlementParsers } from "../psp/settlement/index.ts";
import { ingestReport, type IngestDeps } from "./ingest.ts";
import { spoolAndHash } from "./spool.ts";

const MAX_BYTES = 2 * 1024 ** 3;

type Listed = { reports: Array<{ report_id: string; url: string }> };

export class SettlementPuller {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;

  constructor(private readonly d: IngestDeps & { sandboxUrl: string; everyMs: number }) {}

  start(): void {
    if (this.d.everyMs <= 0) return;
    this.#timer = setInterval(() => {
      this.#running ??= this.pullAll()
        .catch((err: unknown) => this.d.log.warn({ err }, "settlement pull failed; next round"))
        .finally(() => (this.#running = undefined));
    }, this.d.everyMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }

  /** One round over every PSP with a report format; returns how many reports were taken in. */
  async pullAll(): Promise<number> {
    let taken = 0;
    for (const [psp, parse] of Object.entries(settlementParsers)) {
      const root = this.d.sandboxUrl.replace(/\/+$/, "");
      const list = await request(`${root}/_sandbox/psps/${psp}/settlements`);
      if (list.statusCode !== 200) {
        await list.body.dump();
        continue;
      }
      const { reports } = (await list.body.json()) as Listed;
      const known = new Set(
        (
          await this.d.sql<{ report_id: string }[]>`
            select report_id from settlement_reports where psp = ${psp} and report_id = any(${reports.map((r) => r.report_id)})`
        ).map((r) => r.report_id),
      );
      for (const r of reports) {
        if (known.has(r.report_id)) continue;
        const spool = join(tmpdir(), `switchyard-pull-${randomBytes(8).toString("hex")}.csv`);
        try {
          const res = await request(`${root}${r.url}`);
          if (res.statusCode !== 200) {
            await res.body.dump();
            throw new Error(`report ${r.report_id} of ${psp}: HTTP ${res.statusCode}`);
          }
          const sha256 = await spoolAndHash(
            Readable.from(res.body),
            spool,
            MAX_BYTES,
            () => new Error("report too large"),
          );
          const result = await ingestReport(this.d, {
            psp,
            reportId: r.report_id,
            sha256,
            input: createReadStream(spool),
            vet: () => createReadStream(spool),
            parse,
            source: "pull",
            operator: null,
          });
          this.d.metrics.settlementReports.inc({
            psp,
            source: "pull",
            result: result.replayed ? "replayed" : "ingested",
          });
          taken++;
        } catch (err) {
          this.d.metrics.settlementReports.inc({ psp, source: "pull", result: "failed" });
          this.d.log.warn({ err, psp, reportId: r.report_id }, "settlement report not taken in; next round");
        } finally {
          await rm(spool, { force: true });
        }
      }
    }
    return taken;
  }
}
