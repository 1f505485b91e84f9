// The settlement section's report on stdout: medians over rounds of bare csv-parse and the product's
// ingest, the ratio of their times, RSS along the file, the seeding and projection rates, and the
// profile's top costs when one was taken; then one `BENCH_SETTLEMENT {json}` line for tools.
import type { IngestResult } from "../../actors/settlement/ingest.ts";
import type { ProfileSummary } from "./settlement-profile.ts";

/** RSS in MB: before the phase, at 10 / 50 / 100 % of the file read, and the highest sample. */
export type Rss = { before: number; at10: number; at50: number; at100: number; peak: number };
export type Phase = { ms: number; cpuMs: number; lines: number; rss: Rss };

export type SettlementResult = {
  lines: number;
  fileBytes: number;
  seed: { ms: number; perSecond: number };
  projection: { ms: number; perSecond: number; batch: number };
  bare: Phase[];
  product: Phase[];
  outcome: IngestResult | undefined;
  profile: ProfileSummary | undefined;
};

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const n0 = (x: number) => Math.round(x).toLocaleString("en");
const perS = (ps: Phase[]) => median(ps.map((p) => (p.lines / p.ms) * 1000));
const mb = (x: number) => `${x.toFixed(0)} MB`;

export function settlementSummary(r: SettlementResult) {
  const bareMs = median(r.bare.map((p) => p.ms));
  const productMs = median(r.product.map((p) => p.ms));
  return {
    lines: r.lines,
    fileMB: r.fileBytes / 1024 / 1024,
    rounds: r.product.length,
    bareLinesPerS: perS(r.bare),
    productLinesPerS: perS(r.product),
    ratio: productMs / bareMs,
    bareCpuUsPerLine: (median(r.bare.map((p) => p.cpuMs)) / r.lines) * 1000,
    productCpuUsPerLine: (median(r.product.map((p) => p.cpuMs)) / r.lines) * 1000,
    barePeakRssMB: Math.max(...r.bare.map((p) => p.rss.peak)),
    productPeakRssMB: Math.max(...r.product.map((p) => p.rss.peak)),
    seedPerS: r.seed.perSecond,
    projectionPerS: r.projection.perSecond,
  };
}

export function printSettlement(r: SettlementResult): void {
  const s = settlementSummary(r);
  const out: string[] = [];
  const rssLine = (p: Phase) =>
    `${mb(p.rss.before)} before, ${mb(p.rss.at10)} / ${mb(p.rss.at50)} / ${mb(p.rss.at100)} at 10 / 50 / 100 %, peak ${mb(p.rss.peak)}`;
  out.push(
    "",
    `== Settlement: ${n0(r.lines)} lines (${s.fileMB.toFixed(1)} MB acme CSV), 1 line = 1 captured payment, ${s.rounds} round(s), medians ==`,
    `seeded ${n0(r.lines)} payments on PAY_EVT:     ${n0(s.seedPerS)} frames/s (${(r.seed.ms / 1000).toFixed(1)} s)`,
    `payments read model (batch ${r.projection.batch}):   ${n0(s.projectionPerS)} frames/s (${(r.projection.ms / 1000).toFixed(1)} s)`,
    `bare csv-parse:     ${n0(s.bareLinesPerS)} lines/s, ${s.bareCpuUsPerLine.toFixed(2)} µs CPU/line`,
    `product ingest:     ${n0(s.productLinesPerS)} lines/s, ${s.productCpuUsPerLine.toFixed(2)} µs CPU/line (this process; PostgreSQL and NATS not counted)`,
    `product ÷ bare time: ${s.ratio.toFixed(2)}× (aim ≤ 3×)${s.ratio > 3 ? "  ** above the aim **" : ""}`,
  );
  r.bare.forEach((p, i) => out.push(`  RSS bare ${i + 1}:    ${rssLine(p)}`));
  r.product.forEach((p, i) => out.push(`  RSS product ${i + 1}: ${rssLine(p)}`));
  if (r.outcome)
    out.push(
      `last ingest: ${n0(r.outcome.lines)} lines, ${n0(r.outcome.matched)} matched, ${r.outcome.exceptions} exceptions, ${r.outcome.rejected} rejected`,
    );
  if (r.profile) {
    const p = r.profile;
    out.push(`profile of the last product round (${(p.totalMs / 1000).toFixed(1)} s sampled): ${p.file}`);
    out.push("  by module (self time):");
    for (const h of p.modules) out.push(`    ${(h.share * 100).toFixed(1).padStart(5)} %  ${h.name}`);
    out.push("  by function (self time):");
    for (const h of p.functions) out.push(`    ${(h.share * 100).toFixed(1).padStart(5)} %  ${h.name}`);
  }
  out.push(`BENCH_SETTLEMENT ${JSON.stringify(s)}`);
  process.stdout.write(`${out.join("\n")}\n`);
}
