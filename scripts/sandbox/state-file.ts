// The sandbox's records on disk, so that a restarted sandbox still knows the charges it made (a real
// PSP never forgets one: capturing or refunding yesterday's authorization must work after `npm
// start` again). Two files: a snapshot (`sandbox-psp.json`: every record, whole) and a journal
// beside it (`sandbox-psp.journal.jsonl`: one JSON line per change since: a charge as it now is, an
// answer stored under an idempotency key, a settlement batch closed), written by
// sandbox/state-journal.ts: a change costs one line, and a new snapshot is written only once the
// journal is past a multiple of the snapshot's size, so a long-running sandbox does not slow down as
// it ages. This module reads them on start: the snapshot, then the journal replayed on top.
//
// A crash leaves a consistent state: a snapshot is replaced by a rename, whole or not at all; the
// journal names the snapshot generation it continues, so a journal left behind by a crash in the
// middle of a compaction is recognised as already contained in the newer snapshot; a line torn by a
// crash in the middle of an append is dropped with a warning (the changes of the last moments can be
// lost, as before). No card number reaches either file. The former single file (version 1) is read
// as a snapshot and rewritten as version 2 on the first start.
import { readFileSync } from "node:fs";
import type { Charge, PspRecord, WireReply } from "./simulator.ts";
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
