// What both settlement report parsers share: streaming CSV records with their line numbers (csv-parse),
// the header check, and the per-field conversions, written for a million lines a run: decimal strings
// to exact integer minor units by integer arithmetic on digits (no float, no regex), "YYYY-MM-DD
// HH:MM:SS" to an ISO instant by checking and moving characters (no Date per line in UTC).
import { pipeline, Readable } from "node:stream";
import { parse, type CsvError, type Info } from "csv-parse";
import { CURRENCY_EXPONENTS } from "../../payment/core/money.ts";
import type { RejectedLine } from "../../settlement/core/line.ts";

/** The whole file is not the report it claims to be (no header, or the wrong one): nothing is taken. */
export class ReportFormatError extends Error {
  override name = "ReportFormatError";
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

export type ReportInput = Readable | AsyncIterable<Buffer | string>;

/** A record and the line it ends on (1-based; the header is line 1), or a line csv-parse could not read. */
export type CsvRow = { record: string[]; lineNo: number } | { record: null; rejected: RejectedLine };

/**
 * The file's records in order, malformed ones (a stray quote) reported in their place. csv-parse skips
 * a record it cannot read and says so on 'skip', ahead of the records it already queued: those
 * reports wait until the records before them are out.
 */
export async function* csvRows(input: ReportInput): AsyncGenerator<CsvRow> {
  const source = input instanceof Readable ? input : Readable.from(input);
  const parser = parse({
    bom: true,
    info: true,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
  });
  const skipped: RejectedLine[] = [];
  parser.on("skip", (err: CsvError & { lines?: number }) =>
    skipped.push({ lineNo: err.lines ?? 0, reason: `unreadable CSV: ${err.message}` }),
  );
  // pipeline: an error of the source ends the parser (and the loop below) with it; leaving the loop
  // early destroys both.
  pipeline(source, parser, () => undefined);
  for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: Info }>) {
    while (skipped.length > 0 && skipped[0]!.lineNo < info.lines)
      yield { record: null, rejected: skipped.shift()! };
    yield { record, lineNo: info.lines };
  }
  for (const rejected of skipped) yield { record: null, rejected };
}

/** Where each expected column is in this file; throws ReportFormatError when one is missing. */
export function columnsOf<C extends string>(
  header: readonly string[],
  expected: readonly C[],
  report: string,
): Record<C, number> {
  const at = new Map(header.map((name, i) => [name.trim(), i]));
  const missing = expected.filter((c) => !at.has(c));
  if (missing.length > 0) {
    throw new ReportFormatError(
      `not a ${report} report: the header lacks ${missing.join(", ")} (got ${header.slice(0, 12).join(",")})`,
    );
  }
  return Object.fromEntries(expected.map((c) => [c, at.get(c)!])) as Record<C, number>;
}

/** The platform's currency for a code as written (any case), with its exponent; cached per spelling. */
export type KnownCurrency = { code: string; exponent: number };
const currencies = new Map<string, KnownCurrency | null>();
export function currencyOf(written: string): KnownCurrency | null {
  let c = currencies.get(written);
  if (c === undefined) {
    const code = written.toUpperCase();
    const exponent = Object.hasOwn(CURRENCY_EXPONENTS, code) ? CURRENCY_EXPONENTS[code] : undefined;
    c = exponent === undefined ? null : { code, exponent };
    if (currencies.size < 1000) currencies.set(written, c);
  }
  return c;
}

/**
 * "12.34" with exponent 2 → 1234, "-0.5" → -50 (when `signed`), "1234" with exponent 0 → 1234. NaN for
 * anything else: no digits, a sign where none is allowed, more decimals than the exponent, past 2^53.
 * Exact: integer arithmetic on the digits, every intermediate a safe integer or rejected.
 */
export function decimalToMinor(value: string, exponent: number, signed = false): number {
  const len = value.length;
  let i = 0;
  let negative = false;
  if (signed && len > 0 && value.charCodeAt(0) === 45) {
    negative = true;
    i = 1;
  }
  let n = 0;
  let digits = 0;
  let decimals = -1;
  for (; i < len; i++) {
    const c = value.charCodeAt(i);
    if (c === 46) {
      if (decimals >= 0 || digits === 0) return NaN;
      decimals = 0;
      continue;
    }
    if (c < 48 || c > 57) return NaN;
    n = n * 10 + (c - 48);
    digits++;
    if (decimals >= 0) decimals++;
  }
  if (digits === 0 || decimals === 0 || decimals > exponent) return NaN;
  for (let k = decimals < 0 ? 0 : decimals; k < exponent; k++) n *= 10;
  if (!Number.isSafeInteger(n)) return NaN;
  return negative ? 0 - n : n;
}

/** An empty field is 0; otherwise as decimalToMinor (unsigned). */
export const optionalMinor = (value: string, exponent: number): number =>
  value === "" ? 0 : decimalToMinor(value, exponent);

const isDigit = (s: string, i: number) => {
  const c = s.charCodeAt(i);
  return c >= 48 && c <= 57;
};
const TIME_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18] as const;
const two = (s: string, i: number) => (s.charCodeAt(i) - 48) * 10 + (s.charCodeAt(i + 1) - 48);

/** "2026-12-01 13:45:07" (UTC) → "2026-12-01T13:45:07Z"; null when it is not such a time. */
export function utcToIso(value: string): string | null {
  if (value.length !== 19) return null;
  for (const i of TIME_DIGITS) if (!isDigit(value, i)) return null;
  if (value[4] !== "-" || value[7] !== "-" || value[13] !== ":" || value[16] !== ":") return null;
  const sep = value[10];
  if (sep !== " " && sep !== "T") return null;
  const month = two(value, 5);
  const day = two(value, 8);
  if (month < 1 || month > 12 || day < 1 || day > 31) return null;
  if (two(value, 11) > 23 || two(value, 14) > 59 || two(value, 17) > 59) return null;
  return `${value.slice(0, 10)}T${value.slice(11)}Z`;
}

/**
 * A local time in a zone given as UTC/GMT or a fixed offset "+01:00" → an ISO instant in UTC; null
 * for anything else (a named zone with daylight saving cannot be converted without its rules).
 */
export function localToIso(value: string, zone: string): string | null {
  if (zone === "UTC" || zone === "GMT" || zone === "" || zone === "+00:00" || zone === "Z")
    return utcToIso(value);
  if (zone.length !== 6 || (zone[0] !== "+" && zone[0] !== "-") || zone[3] !== ":") return null;
  if (!isDigit(zone, 1) || !isDigit(zone, 2) || !isDigit(zone, 4) || !isDigit(zone, 5)) return null;
  const utc = utcToIso(value);
  if (utc === null) return null;
  const offsetMinutes = (two(zone, 1) * 60 + two(zone, 4)) * (zone[0] === "-" ? -1 : 1);
  const at = Date.parse(utc) - offsetMinutes * 60_000;
  return Number.isNaN(at) ? null : `${new Date(at).toISOString().slice(0, 19)}Z`;
}
