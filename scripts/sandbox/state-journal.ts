// The journal's writer (the files are described in sandbox/state-file.ts): each change of a running
// sandbox becomes one JSON line, appended in coalesced writes (one in flight; what changes meanwhile
// goes in the next, a charge changed twice in one line); once the journal has grown past `ratio`
// times the snapshot, a new snapshot is written (temporary file, renamed) and the journal restarted
// under the next generation. A snapshot costs at most the journal appended since the previous one
// (ratio 2: half of it, plus the journal's own growth), so the bytes written stay proportional to
// the changes made, whatever the state's size. A failed write is reported and the next one is a
// whole snapshot (an append may have been left half done).
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { open, rename, writeFile, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { setImmediate } from "node:timers/promises";
import type { Change, PspRecord } from "./simulator.ts";
import { journalPathOf, type LoadedState } from "./state-file.ts";
import type { JournalEntry } from "./state-schemas.ts";

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
    // A key already pending keeps its place (Map.set does not move it): a charge's line is written
    // as the charge is at the write, so it still comes before a batch closed after it that settled
    // its movements; an answer stored again under the same key is written as it is last.
    this.pending.set(id, { psp, change });
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
    // What else changes in this turn of the event loop (an authorization's charge, then the answer
    // stored under its key) goes in the same write.
    await setImmediate();
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
