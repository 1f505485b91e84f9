// What a settlement report's bytes must be before any of it is read as lines: UTF-8 (RFC 3629: no
// encoded surrogate, no overlong form), no NUL (PostgreSQL text cannot hold one: a NUL that got into
// the SETTLE record stopped the settlement read model), and no field or record longer than a report
// ever needs (a chunk of lines is one NATS message). Checked as the upload is spooled, so a report that
// fails is refused whole (400, naming the line and the column) before anything is recorded.
// Streaming and byte by byte: flat memory whatever the size.

/** Far beyond any real report field (ids, references, descriptions of a few hundred bytes). */
export const MAX_FIELD_BYTES = 4 * 1024;
/** One record (all its fields, quoted line breaks included). */
export const MAX_RECORD_BYTES = 32 * 1024;

/**
 * The report holds what cannot be taken (text that is not UTF-8, a NUL, an over-long field, an amount
 * past the bound of a line): refused whole, nothing taken. `column` is the CSV field's position, 0 when
 * only the normalized field is known (`columnName`: amount, fee, net).
 */
export class ReportContentError extends Error {
  override name = "ReportContentError";
  constructor(
    readonly line: number,
    readonly column: number,
    readonly columnName: string | null,
    readonly problem: string,
  ) {
    const where = column > 0 ? `, column ${column}` : "";
    super(`line ${line}${where}${columnName ? ` (${columnName})` : ""}: ${problem}; nothing was taken`);
  }
}

const LF = 0x0a;
const QUOTE = 0x22;
const COMMA = 0x2c;

/**
 * A byte-level checker fed the report in pieces: `push` each piece as it arrives, `end` once; both
 * throw ReportContentError at the first problem. Lines are physical lines (1-based, the header is line
 * 1, a line break inside quotes starts a new one), columns are the CSV field's position (1-based) with
 * the header's name for it when there is one.
 */
export class ReportGuard {
  #line = 1;
  #column = 1;
  #quoted = false;
  #fieldBytes = 0;
  #recordBytes = 0;
  #headerDone = false;
  #header: number[] = [];
  #names: string[] | null = null;
  /** Continuation bytes still expected in the current UTF-8 sequence, and the range of the next one. */
  #need = 0;
  #lo = 0x80;
  #hi = 0xbf;
  #afterEd = false;

  push(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (this.#need > 0) {
        if (b < this.#lo || b > this.#hi)
          this.#fail(this.#afterEd && b >= 0xa0 && b <= 0xbf ? "an unpaired surrogate" : "invalid UTF-8");
        this.#afterEd = false;
        this.#need--;
        this.#lo = 0x80;
        this.#hi = 0xbf;
        this.#count(b);
        continue;
      }
      if (b === 0) this.#fail("a NUL character");
      if (b < 0x80) {
        this.#structure(b);
        continue;
      }
      // A lead byte: how many continuation bytes follow, and the range of the first (RFC 3629 table).
      if (b >= 0xc2 && b <= 0xdf) this.#need = 1;
      else if (b === 0xe0) [this.#need, this.#lo] = [2, 0xa0];
      else if (b === 0xed) [this.#need, this.#hi] = [2, 0x9f];
      else if (b >= 0xe1 && b <= 0xef) this.#need = 2;
      else if (b === 0xf0) [this.#need, this.#lo] = [3, 0x90];
      else if (b >= 0xf1 && b <= 0xf3) this.#need = 3;
      else if (b === 0xf4) [this.#need, this.#hi] = [3, 0x8f];
      else this.#fail("invalid UTF-8");
      // ED A0–ED BF would encode U+D800–U+DFFF (surrogates, never UTF-8): named as such above.
      this.#afterEd = b === 0xed;
      this.#count(b);
    }
  }

  end(): void {
    if (this.#need > 0) this.#fail("invalid UTF-8 (a truncated sequence at the end)");
  }

  /** Structure of the CSV, enough to know the line, the column and the lengths. */
  #structure(b: number): void {
    if (b === QUOTE) this.#quoted = !this.#quoted;
    else if (!this.#quoted && b === COMMA) {
      this.#header.push(COMMA);
      this.#column++;
      this.#fieldBytes = 0;
      this.#recordBytes++;
      return;
    } else if (b === LF) {
      this.#line++;
      if (!this.#quoted) {
        this.#endRecord();
        return;
      }
    }
    this.#count(b);
  }

  #count(b: number): void {
    if (!this.#headerDone && this.#header.length < MAX_RECORD_BYTES) this.#header.push(b);
    if (++this.#fieldBytes > MAX_FIELD_BYTES)
      this.#fail(`a field longer than ${MAX_FIELD_BYTES} bytes`, this.#line);
    if (++this.#recordBytes > MAX_RECORD_BYTES)
      this.#fail(`a record longer than ${MAX_RECORD_BYTES} bytes`, this.#line);
  }

  #endRecord(): void {
    if (!this.#headerDone) {
      this.#headerDone = true;
      const text = new TextDecoder().decode(new Uint8Array(this.#header));
      this.#names = text.split(",").map((n) =>
        n
          .replace(/^\uFEFF/, "")
          .replace(/"/g, "")
          .trim(),
      );
      this.#header = [];
    }
    this.#column = 1;
    this.#fieldBytes = 0;
    this.#recordBytes = 0;
  }

  #fail(problem: string, line = this.#line): never {
    const name = this.#names?.[this.#column - 1] ?? null;
    throw new ReportContentError(line, this.#column, name || null, problem);
  }
}
