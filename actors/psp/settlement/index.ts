// The settlement report parsers by PSP name: each maps its PSP's own report format onto the normalized
// SettlementLine (actors/settlement/core/line.ts), streaming, a bad line rejected with its number and the
// rest taken, a file that is not the PSP's report refused whole with ReportFormatError.
import type { ParsedLine } from "../../settlement/core/line.ts";
import { parseAcmeReport } from "./acme.ts";
import { parseBoltReport } from "./bolt.ts";
import type { ReportInput } from "./csv.ts";

export { ReportFormatError, decimalToMinor, type ReportInput } from "./csv.ts";
export { parseAcmeReport } from "./acme.ts";
export { parseBoltReport } from "./bolt.ts";

export type SettlementParser = (input: ReportInput, opts: { reportId: string }) => AsyncGenerator<ParsedLine>;

export const settlementParsers: Readonly<Record<string, SettlementParser>> = {
  acme: parseAcmeReport,
  bolt: parseBoltReport,
};
export { ReportContentError, MAX_FIELD_BYTES, MAX_RECORD_BYTES } from "./guard.ts";
