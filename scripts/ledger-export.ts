// `npm run ledger:export -- --from <iso> --to <iso> --out <file> [--format csv|jsonl]`: the journal
// entries with from <= at < to, streamed from the read model into a file with its trailer (line
// count, per-currency totals, SHA-256; docs/ledger.md) — the same bytes as GET /ops/ledger/export.
// A progress bar on a terminal. Configured like the platform (DATABASE_URL, SWITCHYARD_PREFIX).
// Check a file afterwards with `npm run audit:verify -- --ledger-export <file>`.
import { createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { ExportFormat, exportLines } from "../actors/ledger/core/export.ts";
import { journal } from "../actors/settlement/service.ts";
import { loadConfig } from "../config/env.ts";
import { openDb } from "../streams/db/client.ts";

const USAGE =
  "usage: npm run ledger:export -- --from <ISO time> --to <ISO time> --out <file> [--format csv|jsonl]";

async function main(): Promise<number> {
  let opts: { from: string; to: string; out: string; format: ExportFormat };
  try {
    const { values } = parseArgs({
      options: {
        from: { type: "string" },
        to: { type: "string" },
        out: { type: "string" },
        format: { type: "string", default: "csv" },
      },
    });
    const format = ExportFormat.parse(values.format);
    if (!values.from || !values.to || !values.out) throw new Error("--from, --to and --out are required");
    for (const t of [values.from, values.to])
      if (Number.isNaN(Date.parse(t))) throw new Error(`not a time: ${t}`);
    opts = {
      from: new Date(values.from).toISOString(),
      to: new Date(values.to).toISOString(),
      out: values.out,
      format,
    };
  } catch (err) {
    process.stderr.write(`ledger:export: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    return 2;
  }
  const config = loadConfig();
  const db = await openDb(config.database, pino({ level: "silent" }));
  try {
    const [count] = await db.sql<{ n: number }[]>`
      select count(*)::bigint as n from ledger_entries where at >= ${opts.from} and at < ${opts.to}`;
    const total = count?.n ?? 0;
    const bar = progress(total);
    let entries = 0;
    const counted = async function* () {
      for await (const e of journal(db.sql, opts.from, opts.to)) {
        entries++;
        if (entries % 500 === 0) bar(entries);
        yield e;
      }
    };
    await pipeline(Readable.from(exportLines(counted(), opts.format)), createWriteStream(opts.out));
    bar(entries, true);
    process.stderr.write(`ledger:export: ${entries} entries to ${opts.out}\n`);
    return 0;
  } finally {
    await db.close();
  }
}

/** A bar on stderr when it is a terminal; nothing otherwise (pipes and CI logs stay clean). */
function progress(total: number): (done: number, last?: boolean) => void {
  if (!process.stderr.isTTY) return () => undefined;
  return (done, last = false) => {
    const share = total === 0 ? 1 : Math.min(1, done / total);
    const width = 30;
    const filled = Math.round(share * width);
    process.stderr.write(
      `\r[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${Math.round(share * 100)}% ${done}/${total} entries${last ? "\n" : ""}`,
    );
  };
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`ledger:export: failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
