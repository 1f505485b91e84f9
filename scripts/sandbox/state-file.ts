// The sandbox's records on disk, so that a restarted sandbox still knows the charges it made (a real
// PSP never forgets one: capturing or refunding yesterday's authorization must work after `npm
// start` again). Two files: a snapshot (`sandbox-psp.json`: every record, whole) and a journal
// beside it (`sandbox-psp.journal.jsonl`: one JSON line per change since: a charge as it now is, an
// answer stored under an idempotency key, a settlement batch closed). A change costs one line,
// appended in coalesced writes (one in flight; what changes meanwhile goes in the next); once the
// journal has grown past `ratio` times the snapshot, a new snapshot is written (temporary file,
// renamed) and the journal restarted, so the bytes written stay proportional to the changes made
// whatever the state's size, and a long-running sandbox does not slow down as it ages.
//
// A crash leaves a consistent state: a snapshot is replaced by a rename, whole or not at all; the
// journal names the snapshot generation it continues, so a journal left behind by a crash in the
// middle of a compaction is recognised as already contained in the newer snapshot; a line torn by a
// crash in the middle of an append is dropped with a warning (the changes of the last moments can be
// lost, as before). No card number reaches either file. The former single file (version 1) is read
// as a snapshot and rewritten as version 2 on the first start.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { open, rename, writeFile, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import type { Change, Charge, PspRecord, WireReply } from "./simulator.ts";
import type { ClosedBatch } from "./settlement-rows.ts";
import { JournalEntry, JournalHeader, SnapshotSchema } from "./state-schemas.ts";

export class SandboxStateError extends Error {
  override name = "SandboxStateError";
}

/** The journal beside a snapshot: `x.json` → `x.journal.jsonl`. */
export function journalPathOf(path: string): string {
  return `${path.endsWith(".json") ? path.slice(0, -".json".length) : path}.journal.jsonl`;
}

/** What a start found on disk. */
export type LoadedState = {
  records: Map<string, PspRecord>;
  /** The snapshot's generation (0 for none or the former format). */
  gen: number;
  snapshotBytes: number;
  journalBytes: number;
  /** Journal lines replayed on top of the snapshot. */
  replayed: number;
  /**
   * The files are not the pair the journal goes on appending to (no journal yet, the former format,
   * a journal already in the snapshot, a torn last line): a snapshot is written before the first append.
   */
  rewrite: boolean;
  warnings: string[];
};

type Book = { charges: Map<string, Charge>; replies: Map<string, WireReply>; batches: ClosedBatch[] };

const fail = (path: string, why: string) =>
  new SandboxStateError(`${path} ${why}; move it away to start the sandbox empty`);

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** The records in the snapshot at `path` and its journal, none when neither exists yet. */
export function loadState(path: string): LoadedState {
  const journalPath = journalPathOf(path);
  const books = new Map<string, Book>();
  const book = (psp: string): Book => {
    let b = books.get(psp);
    if (!b) books.set(psp, (b = { charges: new Map(), replies: new Map(), batches: [] }));
    return b;
  };
  const loaded: LoadedState = {
    records: new Map(),
    gen: 0,
    snapshotBytes: 0,
    journalBytes: 0,
    replayed: 0,
    rewrite: false,
    warnings: [],
  };

  const snapshotText = readText(path);
  if (snapshotText === undefined) loaded.rewrite = true;
  else {
    let json: unknown;
    try {
      json = JSON.parse(snapshotText);
    } catch {
      throw fail(path, "is not JSON");
    }
    const parsed = SnapshotSchema.safeParse(json);
    if (!parsed.success)
      throw fail(path, `is not a sandbox state file (${parsed.error.issues[0]?.message ?? "invalid"})`);
    loaded.gen = parsed.data.gen;
    loaded.snapshotBytes = Buffer.byteLength(snapshotText);
    if (parsed.data.v === 1) loaded.rewrite = true; // the former format: migrated on this start
    for (const [name, r] of Object.entries(parsed.data.psps)) {
      const b = book(name);
      for (const c of r.charges) b.charges.set(c.id, c);
      for (const [key, reply] of r.replies) b.replies.set(key, reply);
      b.batches.push(...r.batches);
    }
  }

  const journalText = readText(journalPath);
  if (journalText === undefined || journalText === "") loaded.rewrite = true;
  else replay(journalPath, journalText, loaded, book);

  for (const [name, b] of books)
    loaded.records.set(name, {
      charges: [...b.charges.values()],
      replies: [...b.replies],
      batches: b.batches,
    });
  return loaded;
}

function replay(journalPath: string, text: string, loaded: LoadedState, book: (psp: string) => Book): void {
  const lines = text.split("\n");
  // A last line not ended by a newline, or not JSON, was torn by a crash while it was appended.
  let last = lines.length - 1;
  if (lines[last] === "") last--;
  const torn = (why: string) => {
    loaded.warnings.push(`${journalPath}: the last line is torn (${why}), the change in it is lost`);
    loaded.rewrite = true;
  };
  const header = JournalHeader.safeParse(parseLine(lines[0] ?? ""));
  if (!header.success || lines.length === 1) {
    if (last > 0) throw fail(journalPath, "does not start with a sandbox journal header");
    torn("no whole header");
    return;
  }
  if (header.data.gen > loaded.gen)
    throw fail(
      journalPath,
      `continues snapshot ${header.data.gen}, but the snapshot is ${loaded.gen} (missing?)`,
    );
  if (header.data.gen < loaded.gen) {
    // Left behind by a crash between writing a snapshot and restarting the journal: all in the snapshot.
    loaded.rewrite = true;
    return;
  }
  let bytes = Buffer.byteLength(lines[0] ?? "") + 1;
  for (let i = 1; i <= last; i++) {
    const line = lines[i] ?? "";
    const unterminated = i === lines.length - 1; // no newline after it
    const json = parseLine(line);
    const entry = JournalEntry.safeParse(json);
    if (!entry.success) {
      const why = json === undefined ? "not JSON" : (entry.error.issues[0]?.message ?? "invalid");
      if (i === last) {
        torn(unterminated ? "no newline" : why);
        break;
      }
      throw fail(journalPath, `line ${i + 1} is not a sandbox change (${why})`);
    }
    if (unterminated) {
      torn("no newline");
      break;
    }
    apply(journalPath, entry.data, book(entry.data.psp));
    bytes += Buffer.byteLength(line) + 1;
    loaded.replayed++;
  }
  loaded.journalBytes = bytes;
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

function apply(journalPath: string, entry: JournalEntry, b: Book): void {
  switch (entry.t) {
    case "charge":
      b.charges.set(entry.charge.id, entry.charge);
      return;
    case "reply":
      b.replies.set(entry.key, entry.reply);
      return;
    case "batch": {
      const n = entry.batch.batch;
      if (n <= b.batches.length) return; // already in (a batch is never changed once closed)
      if (n !== b.batches.length + 1)
        throw fail(journalPath, `batch ${n} of ${entry.psp} follows batch ${b.batches.length}`);
      b.batches.push(entry.batch);
      const settled = new Set(entry.settled);
      for (const c of b.charges.values())
        for (const m of c.movements) if (m.batch === undefined && settled.has(m.lineId)) m.batch = n;
      return;
    }
    default:
      entry satisfies never;
  }
}

/** What the store wrote, for tests and the bench: bytes per change, compactions. */
export type StateStats = {
  /** Changes reported (before coalescing). */
  changes: number;
  /** Journal lines appended, and the writes that appended them. */
  lines: number;
  appends: number;
  compactions: number;
  bytesAppended: number;
  bytesSnapshotted: number;
  /** Everything written to disk since the start: appended plus snapshotted. */
  bytesWritten: number;
  /** The files' sizes now. */
  snapshotBytes: number;
  journalBytes: number;
};

export type CompactionTerms = {
  /** A new snapshot once the journal is this many times the snapshot's size (default 2)… */
  ratio?: number;
  /** …and at least this many bytes (default 256 KiB), so a small state is not rewritten often. */
  minBytes?: number;
};

const DEFAULT_RATIO = 2;
const DEFAULT_MIN_BYTES = 256 * 1024;

type Pending = { psp: string; change: Change };

/** Appends the changes of a running sandbox to the journal, compacting it now and then. */
export class StateJournal {
  private readonly journalPath: string;
  private readonly pending = new Map<string, Pending>();
  private handle: FileHandle | undefined;
  private writing: Promise<void> | undefined;
  /** A write failed: what was lost is only in memory, so the next write is a whole snapshot. */
  private broken = false;
  private gen: number;
  private readonly ratio: number;
  private readonly minBytes: number;
  private readonly stats: StateStats;

  /**
   * Takes over the files `loaded` came from. `collect` returns every record as it is now (for a
   * snapshot). When the files need it (see LoadedState.rewrite), a snapshot is written at once.
   */
  constructor(
    private readonly path: string,
    loaded: LoadedState,
    private readonly collect: () => Map<string, PspRecord>,
    private readonly onError: (err: unknown) => void,
    terms: CompactionTerms = {},
  ) {
    this.journalPath = journalPathOf(path);
    this.gen = loaded.gen;
    this.ratio = terms.ratio ?? DEFAULT_RATIO;
    this.minBytes = terms.minBytes ?? DEFAULT_MIN_BYTES;
    this.stats = {
      changes: 0,
      lines: 0,
      appends: 0,
      compactions: 0,
      bytesAppended: 0,
      bytesSnapshotted: 0,
      bytesWritten: 0,
      snapshotBytes: loaded.snapshotBytes,
      journalBytes: loaded.journalBytes,
    };
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    if (loaded.rewrite) this.compactNow();
  }

  statistics(): StateStats {
    return { ...this.stats };
  }

  /** Something changed: append it soon. A charge changed again before then is written once. */
  changed(psp: string, change: Change): void {
    this.stats.changes++;
    const id =
      change.kind === "charge"
        ? `c ${psp} ${change.charge.id}`
        : change.kind === "reply"
          ? `r ${psp} ${change.key}`
          : `b ${psp} ${change.batch.batch}`;
    // A key already pending keeps its place: a charge's line is written as the charge is at the
    // write, so it still comes before a batch closed after it that settled its movements.
    if (!this.pending.has(id)) this.pending.set(id, { psp, change });
    void this.start();
  }

  /** Write what is pending and wait for it (on close). A failing write is tried once more, not forever. */
  async flush(): Promise<void> {
    for (;;) {
      await this.start();
      if (this.broken || (this.writing === undefined && this.pending.size === 0)) return;
    }
  }

  async close(): Promise<void> {
    await this.flush();
    await this.handle?.close();
    this.handle = undefined;
  }

  private start(): Promise<void> {
    this.writing ??= this.drain()
      .catch((err: unknown) => {
        this.broken = true;
        this.onError(err);
      })
      .finally(() => {
        this.writing = undefined;
        if (this.pending.size > 0 && !this.broken) void this.start(); // changed while finishing
      });
    return this.writing;
  }

  private async drain(): Promise<void> {
    while (this.pending.size > 0 || this.broken) {
      if (this.broken || this.stats.journalBytes >= this.threshold()) {
        await this.compact();
        continue;
      }
      const text = this.takePending();
      this.handle ??= await open(this.journalPath, "a", 0o600);
      const bytes = Buffer.byteLength(text);
      await this.handle.appendFile(text); // on failure (broken) the next write is a snapshot
      this.stats.appends++;
      this.stats.bytesAppended += bytes;
      this.stats.bytesWritten += bytes;
      this.stats.journalBytes += bytes;
    }
    if (this.stats.journalBytes >= this.threshold()) await this.compact();
  }

  private threshold(): number {
    return Math.max(this.minBytes, this.ratio * this.stats.snapshotBytes);
  }

  private takePending(): string {
    let text = "";
    for (const { psp, change } of this.pending.values()) {
      text += `${JSON.stringify(line(psp, change))}\n`;
      this.stats.lines++;
    }
    this.pending.clear();
    return text;
  }

  /** Every record now, and the journal that will continue it; pending changes are in the snapshot. */
  private nextGeneration(): { gen: number; snapshot: string; header: string } {
    const gen = this.gen + 1;
    const snapshot = JSON.stringify({ v: 2, gen, psps: Object.fromEntries(this.collect()) });
    this.pending.clear();
    return { gen, snapshot, header: `${JSON.stringify({ t: "journal", v: 2, gen })}\n` };
  }

  private compacted(gen: number, snapshot: string, header: string): void {
    const snapshotBytes = Buffer.byteLength(snapshot);
    const headerBytes = Buffer.byteLength(header);
    this.gen = gen;
    this.broken = false;
    this.stats.compactions++;
    this.stats.snapshotBytes = snapshotBytes;
    this.stats.journalBytes = headerBytes;
    this.stats.bytesSnapshotted += snapshotBytes + headerBytes;
    this.stats.bytesWritten += snapshotBytes + headerBytes;
  }

  // The snapshot first: until the journal is restarted, the old one names an older generation and
  // is known to be contained in the new snapshot.
  private async compact(): Promise<void> {
    const { gen, snapshot, header } = this.nextGeneration();
    await this.handle?.close();
    this.handle = undefined;
    await writeFile(`${this.path}.tmp`, snapshot, { mode: 0o600 });
    await rename(`${this.path}.tmp`, this.path);
    await writeFile(`${this.journalPath}.tmp`, header, { mode: 0o600 });
    await rename(`${this.journalPath}.tmp`, this.journalPath);
    this.compacted(gen, snapshot, header);
  }

  /** The same, synchronously, on start (nothing else runs yet). */
  private compactNow(): void {
    const { gen, snapshot, header } = this.nextGeneration();
    writeFileSync(`${this.path}.tmp`, snapshot, { mode: 0o600 });
    renameSync(`${this.path}.tmp`, this.path);
    writeFileSync(`${this.journalPath}.tmp`, header, { mode: 0o600 });
    renameSync(`${this.journalPath}.tmp`, this.journalPath);
    this.compacted(gen, snapshot, header);
  }
}

function line(psp: string, change: Change): JournalEntry {
  switch (change.kind) {
    case "charge":
      return { t: "charge", psp, charge: change.charge };
    case "reply":
      return { t: "reply", psp, key: change.key, reply: change.reply };
    case "batch":
      return { t: "batch", psp, batch: change.batch, settled: change.settled };
  }
}
