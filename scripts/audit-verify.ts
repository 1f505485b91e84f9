// `npm run audit:verify`: checks that no stored payment event was edited, removed or reordered
// behind the platform's back. Walks every payment's history in PAY_EVT (streams/chain-audit.ts)
// with the same configuration as the platform (NATS_URL, SWITCHYARD_PREFIX: config/env.ts) and
// prints one line per break, then one summary line:
//   BREAK mismatch payment=<id> seq=<n> prev_seq=<m> expected=<hex> found=<hex>: <what it means>
//   audit: intact|BROKEN: <F> frames, <P> payments, <L> legacy frames (unchained), <B> breaks
// Exit 0: intact; 1: at least one break; 2: the audit could not run (bad arguments, no NATS, no stream).
// Reads only: it creates no stream, consumer or key.
import { createReadStream } from "node:fs";
import { parseArgs } from "node:util";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { linesOf, verifyExport } from "../actors/ledger/core/export.ts";
import { pino } from "pino";
import { loadConfig } from "../config/env.ts";
import { createLogger } from "../config/log.ts";
import { formatBreak, formatSummary } from "../streams/chain.ts";
import { auditEventChains } from "../streams/chain-audit.ts";
import { connectNats } from "../streams/connection.ts";
import { topologyOf } from "../streams/infra.ts";
import { isStreamNotFound } from "../streams/jetstream-errors.ts";

const USAGE =
  "usage: npm run audit:verify [-- --ledger-export FILE ...]  (configured like the platform: NATS_URL, SWITCHYARD_PREFIX)";

async function main(args: readonly string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let exports: string[];
  try {
    const parsed = parseArgs({
      args: [...args],
      options: { "ledger-export": { type: "string", multiple: true } },
    });
    exports = parsed.values["ledger-export"] ?? [];
  } catch (err) {
    process.stderr.write(`audit: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    return 2;
  }
  // Each ledger export against its own trailer: line count, per-currency totals, SHA-256, balance.
  let exportsBroken = 0;
  for (const file of exports) {
    const verdict = await verifyExport(linesOf(createReadStream(file)));
    for (const p of verdict.problems) process.stdout.write(`BREAK ledger-export file=${file}: ${p}\n`);
    process.stdout.write(
      `audit: ledger export ${file}: ${verdict.ok ? "intact" : "BROKEN"} (${verdict.lines} lines)\n`,
    );
    if (!verdict.ok) exportsBroken++;
  }
  const config = loadConfig();
  const topo = topologyOf(config);
  // stdout is the report; connection trouble goes to stderr.
  const log = createLogger(config.logLevel, { role: "audit" }, pino.destination(2));
  const nc = await connectNats(config.nats, "switchyard-audit", log);
  try {
    const verifier = await auditEventChains(jetstream(nc), await jetstreamManager(nc), topo);
    for (const b of verifier.breaks) process.stdout.write(`${formatBreak(b)}\n`);
    const summary = verifier.summary();
    process.stdout.write(`${formatSummary(summary)} (stream ${topo.eventStream})\n`);
    return summary.breaks === 0 && exportsBroken === 0 ? 0 : 1;
  } catch (err) {
    if (!isStreamNotFound(err)) throw err;
    process.stderr.write(`audit: no stream ${topo.eventStream} on ${config.nats.url} (SWITCHYARD_PREFIX?)\n`);
    return 2;
  } finally {
    await nc.drain().catch(() => nc.close());
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`audit: could not run: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
