// The ledger export format (GET /ops/ledger/export): a header, one line per posting (csv) or per
// entry (jsonl), and a trailer with the line count, the per-currency totals and the SHA-256 of every
// byte before it. Streamed: nothing is buffered but the running hash and totals. verifyExport checks
// a file against its own trailer. docs/ledger.md, "Export", has the exact shapes.
import { createHash } from "node:crypto";
import { z } from "zod";
import type { JournalEntry } from "./entry.ts";
import { EntryKind, balanceProblem } from "./entry.ts";

export const EXPORT_VERSION = 1;
export const ExportFormat = z.enum(["csv", "jsonl"]);
export type ExportFormat = z.infer<typeof ExportFormat>;

export const CSV_COLUMNS = [
  "entry_id",
  "at",
  "kind",
  "payment_id",
  "currency",
  "account",
  "debit",
  "credit",
  "sources",
  "description",
] as const;
export const CSV_HEADER = CSV_COLUMNS.join(",");
/** The first cell of the csv trailer row; its second cell is the trailer as JSON. */
export const CSV_TRAILER_TAG = "#trailer";

export type CurrencyTotals = Record<string, { debit: string; credit: string }>;

/** Sums in decimal strings: a total of many safe integers need not be one. */
const Totals = z.record(z.string(), z.object({ debit: z.string(), credit: z.string() }));

export const ExportTrailer = z.object({
  v: z.number().int(),
  format: ExportFormat,
  /** Lines between the header and the trailer: postings (csv) or entries (jsonl). */
  lines: z.number().int().nonnegative(),
  entries: z.number().int().nonnegative(),
  postings: z.number().int().nonnegative(),
  totals: Totals,
  /** Hex SHA-256 of the UTF-8 bytes of every line before the trailer, header included, each with its "\n". */
  sha256: z.string(),
});
export type Trailer = z.infer<typeof ExportTrailer>;

const Amount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
/** One jsonl line between header and trailer: a balanced journal entry in one currency. */
export const ExportEntry = z.object({
  id: z.string(),
  at: z.string(),
  currency: z.string(),
  kind: z.enum(Object.values(EntryKind) as [EntryKind, ...EntryKind[]]),
  paymentId: z.string().nullable(),
  description: z.string(),
  sources: z.array(z.string()),
  postings: z.array(z.object({ account: z.string(), debit: Amount, credit: Amount })),
});

/** Every line of a jsonl export, as the registry publishes it (schemas/ledger-export-line). */
export const ExportJsonlLine = z.union([
  z.object({ header: z.object({ v: z.literal(EXPORT_VERSION), format: z.literal("jsonl") }) }),
  ExportEntry,
  z.object({ trailer: ExportTrailer }),
]);
export type ExportJsonlLine = z.infer<typeof ExportJsonlLine>;

export const jsonlHeader = (): string => JSON.stringify({ header: { v: EXPORT_VERSION, format: "jsonl" } });

/** Running totals and digest over the lines before the trailer. */
class Tally {
  readonly hash = createHash("sha256");
  lines = 0;
  entries = 0;
  postings = 0;
  readonly totals = new Map<string, { debit: bigint; credit: bigint }>();

  add(currency: string, debit: bigint, credit: bigint): void {
    const t = this.totals.get(currency) ?? { debit: 0n, credit: 0n };
    this.totals.set(currency, { debit: t.debit + debit, credit: t.credit + credit });
  }

  trailer(format: ExportFormat): Trailer {
    const totals: CurrencyTotals = {};
    for (const c of [...this.totals.keys()].sort()) {
      const t = this.totals.get(c)!;
      totals[c] = { debit: String(t.debit), credit: String(t.credit) };
    }
    const { lines, entries, postings } = this;
    return { v: EXPORT_VERSION, format, lines, entries, postings, totals, sha256: this.hash.digest("hex") };
  }
}

/**
 * One csv text cell: quoted when it holds a comma or a quote; line breaks become spaces (one row per
 * line); a cell a spreadsheet would read as a formula (it begins with =, +, -, @, a tab or a carriage
 * return) gets a leading single quote, as OWASP's CSV injection guidance says. Amounts are not text:
 * they are written by numberCell, digits only, never prefixed.
 */
export function csvCell(value: string): string {
  const flat = value.replace(/[\r\n]+/g, " ");
  const safe = FORMULA_START.test(value) ? `'${flat}` : flat;
  return /[",]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
const FORMULA_START = /^[=+\-@\t\r]/;

/** An amount cell: the integer as digits (a minus sign first if it is negative), never neutralized. */
export function numberCell(value: number | bigint): string {
  if (typeof value === "number" && !Number.isSafeInteger(value))
    throw new RangeError(`amount ${value} is not an exact integer`);
  return String(value);
}

function csvRows(e: JournalEntry): string[] {
  return e.postings.map((p) =>
    [
      csvCell(e.id),
      csvCell(e.at),
      csvCell(e.kind),
      csvCell(e.paymentId ?? ""),
      csvCell(e.currency),
      csvCell(p.account),
      numberCell(p.debit),
      numberCell(p.credit),
      csvCell(e.sources.join(" ")),
      csvCell(e.description),
    ].join(","),
  );
}

/**
 * The export, line by line, each line ending in "\n": the header, then (csv) one row per posting or
 * (jsonl) one JournalEntry per line, then the trailer — csv `#trailer,"<trailer JSON, quotes doubled>"`,
 * jsonl `{"trailer":{...}}`.
 */
export async function* exportLines(
  entries: AsyncIterable<JournalEntry>,
  format: ExportFormat,
): AsyncGenerator<string> {
  const tally = new Tally();
  const emit = (line: string): string => {
    const out = `${line}\n`;
    tally.hash.update(out, "utf8");
    return out;
  };
  yield emit(format === "csv" ? CSV_HEADER : jsonlHeader());
  for await (const e of entries) {
    tally.entries++;
    tally.postings += e.postings.length;
    for (const p of e.postings) tally.add(e.currency, BigInt(p.debit), BigInt(p.credit));
    const lines = format === "csv" ? csvRows(e) : [JSON.stringify(e)];
    for (const line of lines) {
      tally.lines++;
      yield emit(line);
    }
  }
  const trailer = tally.trailer(format);
  yield format === "csv"
    ? `${CSV_TRAILER_TAG},${csvCell(JSON.stringify(trailer))}\n`
    : `${JSON.stringify({ trailer })}\n`;
}

/** Splits a stream of text or bytes (a file, an HTTP body) into lines without their "\n". */
export async function* linesOf(chunks: AsyncIterable<string | Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of chunks) {
    rest += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    const parts = rest.split("\n");
    rest = parts.pop() ?? "";
    yield* parts;
  }
  rest += decoder.decode();
  if (rest !== "") yield rest;
}

/** The cells of one csv row (RFC 4180 quoting, no line breaks inside cells); null when malformed. */
export function parseCsvRow(row: string): string[] | null {
  const cells: string[] = [];
  let i = 0;
  for (;;) {
    if (row[i] === '"') {
      let cell = "";
      i++;
      for (;;) {
        const q = row.indexOf('"', i);
        if (q < 0) return null;
        cell += row.slice(i, q);
        if (row[q + 1] === '"') {
          cell += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      cells.push(cell);
      if (i === row.length) return cells;
      if (row[i] !== ",") return null;
      i++;
    } else {
      const c = row.indexOf(",", i);
      if (c < 0) {
        cells.push(row.slice(i));
        return cells;
      }
      cells.push(row.slice(i, c));
      i = c + 1;
    }
  }
}

export type VerifyResult = { ok: boolean; lines: number; problems: string[] };

/** Problems named at most; the rest are counted in a last one. */
const MAX_PROBLEMS = 50;

/**
 * Checks an export against its trailer: recomputes the digest, the line, entry and posting counts and
 * the per-currency totals, and checks that every entry balances in one currency. Takes the lines as
 * exportLines yields them or as linesOf splits a file (with or without their "\n").
 */
export async function verifyExport(lines: AsyncIterable<string>): Promise<VerifyResult> {
  const problems: string[] = [];
  let untold = 0;
  const problem = (p: string): void => {
    if (problems.length < MAX_PROBLEMS) problems.push(p);
    else untold++;
  };
  const tally = new Tally();
  let format: ExportFormat | undefined;
  let trailer: Trailer | undefined;
  let open: { id: string; currency: string; debit: bigint; credit: bigint } | undefined;
  const close = (): void => {
    if (open && open.debit !== open.credit)
      problem(`unbalanced entry ${open.id}: debits ${open.debit} ≠ credits ${open.credit} ${open.currency}`);
    open = undefined;
  };
  let n = 0;
  for await (const raw of lines) {
    n++;
    const line = raw.endsWith("\n") ? raw.slice(0, -1) : raw;
    if (n === 1) {
      format = line === CSV_HEADER ? "csv" : line === jsonlHeader() ? "jsonl" : undefined;
      if (!format) return { ok: false, lines: 0, problems: ["line 1: not a ledger export header"] };
      tally.hash.update(`${line}\n`, "utf8");
      continue;
    }
    if (trailer) {
      problem(`line ${n}: content after the trailer`);
      continue;
    }
    const t = format === "csv" ? csvTrailer(line) : jsonlTrailer(line);
    if (t === "malformed") problem(`line ${n}: malformed trailer`);
    if (t !== null) {
      if (t !== "malformed") trailer = t;
      close();
      continue;
    }
    tally.hash.update(`${line}\n`, "utf8");
    tally.lines++;
    if (format === "csv") {
      const cells = parseCsvRow(line);
      const [id, , , , currency, account, debit, credit] = cells ?? [];
      if (!cells || cells.length !== CSV_COLUMNS.length || id === undefined || currency === undefined) {
        problem(`line ${n}: malformed row`);
        continue;
      }
      const d = minor(debit);
      const c = minor(credit);
      if (d === null || c === null || (d > 0n && c > 0n)) {
        problem(`line ${n}: bad amounts for ${account ?? "?"} in entry ${id}`);
        continue;
      }
      if (open?.id !== id) {
        close();
        open = { id, currency, debit: 0n, credit: 0n };
        tally.entries++;
      } else if (open.currency !== currency) problem(`entry ${id} mixes currencies on line ${n}`);
      open.debit += d;
      open.credit += c;
      tally.postings++;
      tally.add(currency, d, c);
    } else {
      const parsed = ExportEntry.safeParse(parseJson(line));
      if (!parsed.success) {
        problem(`line ${n}: malformed entry`);
        continue;
      }
      const e = parsed.data;
      const unbalanced = balanceProblem(e);
      if (unbalanced !== null) problem(`unbalanced entry ${e.id}: ${unbalanced}`);
      tally.entries++;
      tally.postings += e.postings.length;
      for (const p of e.postings) tally.add(e.currency, BigInt(p.debit), BigInt(p.credit));
    }
  }
  close();
  if (n === 0) return { ok: false, lines: 0, problems: ["empty export: no header"] };
  if (!trailer) problem("missing trailer");
  else compare(trailer, tally.trailer(format!), problem);
  if (untold > 0) problems.push(`and ${untold} more problems`);
  return { ok: problems.length === 0, lines: tally.lines, problems };
}

function compare(said: Trailer, found: Trailer, problem: (p: string) => void): void {
  if (said.format !== found.format) problem(`format mismatch: trailer says ${said.format}`);
  for (const k of ["lines", "entries", "postings"] as const)
    if (said[k] !== found[k]) problem(`count mismatch: trailer says ${said[k]} ${k}, found ${found[k]}`);
  for (const c of new Set([...Object.keys(said.totals), ...Object.keys(found.totals)])) {
    const s = said.totals[c];
    const f = found.totals[c];
    if (s?.debit !== f?.debit || s?.credit !== f?.credit)
      problem(
        `totals mismatch in ${c}: trailer says ${s?.debit ?? 0}/${s?.credit ?? 0}, found ${f?.debit ?? 0}/${f?.credit ?? 0}`,
      );
  }
  if (said.sha256 !== found.sha256)
    problem(`digest mismatch: trailer says ${said.sha256}, content is ${found.sha256}`);
}

/** A non-negative integer cell, exact at any size; null when it is not one. */
function minor(cell: string | undefined): bigint | null {
  return cell !== undefined && /^\d+$/.test(cell) ? BigInt(cell) : null;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The trailer of a csv export; null when the row is not one. */
function csvTrailer(line: string): Trailer | "malformed" | null {
  if (!line.startsWith(`${CSV_TRAILER_TAG},`)) return null;
  const cells = parseCsvRow(line);
  const parsed = ExportTrailer.safeParse(cells?.length === 2 ? parseJson(cells[1]!) : undefined);
  return parsed.success ? parsed.data : "malformed";
}

/** The trailer of a jsonl export; null when the line is not one. */
function jsonlTrailer(line: string): Trailer | "malformed" | null {
  if (!line.startsWith('{"trailer"')) return null;
  const parsed = z.object({ trailer: ExportTrailer }).safeParse(parseJson(line));
  return parsed.success ? parsed.data.trailer : "malformed";
}
