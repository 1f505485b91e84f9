// What the sandbox's persistence costs a change, as the sandbox ages: N simulated acme charges, each
// authorized then captured (four changes: the charge and its stored answer, twice), paced like a
// client (one step every `--interval-ms`, default 1 ms), with the state kept three ways: not at all
// (the yardstick), rewritten whole on each change (the former sandbox/state-file.ts, copied below,
// coalesced as it was), and journaled (sandbox/state-journal.ts: a line per change, compacted now and
// then). Reports the process's CPU per change (process.cpuUsage: every thread, so the file system's
// work too), over all the charges and over the first and the last thousand, plus the bytes written.
// Several runs, medians. Pure CPU and a temporary directory, no services.
// `npx tsx scripts/bench/sandbox-state.ts [--charges N] [--runs N] [--interval-ms N]
// [--modes none,rewrite,journal]` (JSON on the last line).
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setImmediate as tick, setTimeout as delay } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { chargeBody } from "../sandbox/acme.ts";
import { randomId, SimulatedPsp, type Change, type PspRecord } from "../sandbox/simulator.ts";
import { loadState } from "../sandbox/state-file.ts";
import { StateJournal } from "../sandbox/state-journal.ts";
import { makeTempDir } from "./cleanup.ts";

export const Mode = { none: "none", rewrite: "rewrite", journal: "journal" } as const;
export type Mode = (typeof Mode)[keyof typeof Mode];

type Store = {
  changed(psp: string, change: Change): void;
  flush(): Promise<void>;
  bytesWritten(): number;
};

/** The former sandbox/state-file.ts writer: the whole state, rewritten after each change, coalesced. */
function rewriteStore(path: string, collect: () => Map<string, PspRecord>): Store {
  let dirty = false;
  let writing: Promise<void> | undefined;
  let bytes = 0;
  async function writeWhileDirty(): Promise<void> {
    while (dirty) {
      dirty = false;
      const text = JSON.stringify({ v: 1, psps: Object.fromEntries(collect()) });
      bytes += Buffer.byteLength(text);
      await writeFile(`${path}.tmp`, text, { mode: 0o600 });
      await rename(`${path}.tmp`, path);
    }
  }
  function start(): Promise<void> {
    writing ??= writeWhileDirty().finally(() => {
      writing = undefined;
      if (dirty) void start();
    });
    return writing;
  }
  return {
    changed() {
      dirty = true;
      void start();
    },
    async flush() {
      dirty = true;
      await start();
    },
    bytesWritten: () => bytes,
  };
}

function journalStore(path: string, collect: () => Map<string, PspRecord>): Store {
  const journal = new StateJournal(path, loadState(path), collect, (err) => {
    throw err;
  });
  return {
    changed: (psp, change) => journal.changed(psp, change),
    flush: () => journal.close(),
    bytesWritten: () => journal.statistics().bytesWritten,
  };
}

export type RunResult = {
  mode: Mode;
  changes: number;
  /** µs of CPU per change: all charges, the first thousand, the last thousand. */
  usPerChange: number;
  usPerChangeFirst: number;
  usPerChangeLast: number;
  mbWritten: number;
  wallS: number;
};

const cpuUs = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return u.user + u.system;
};

export async function runOnce(mode: Mode, charges: number, intervalMs: number): Promise<RunResult> {
  const dir = makeTempDir();
  try {
    const path = join(dir, "sandbox-psp.json");
    const acme = new SimulatedPsp("acme", () => randomId("ch_", 24));
    const collect = () => new Map([["acme", acme.record()]]);
    const store: Store | undefined =
      mode === Mode.rewrite
        ? rewriteStore(path, collect)
        : mode === Mode.journal
          ? journalStore(path, collect)
          : undefined;
    if (store) acme.onChange = (change) => store.changed("acme", change);
    const pause = () => (intervalMs > 0 ? delay(intervalMs) : tick());
    const window = Math.min(1000, Math.floor(charges / 2));
    const startWall = Date.now();
    const start = process.cpuUsage();
    let firstUs = 0;
    let lastStart = start;
    for (let i = 0; i < charges; i++) {
      if (i === window) firstUs = cpuUs(start);
      if (i === charges - window) lastStart = process.cpuUsage();
      const key = randomUUID();
      const charge = acme.authorize(
        {
          idempotencyKey: key,
          reference: randomUUID(),
          amount: 5000,
          currency: "EUR",
          capture: false,
          card: { number: "4242424242424242", expMonth: 3, expYear: 2030 },
          actionUrl: (id) => `http://127.0.0.1/acme/3ds/${id}`,
        },
        new Date(),
      );
      acme.remember(key, "fingerprint", { status: 200, body: chargeBody(charge) });
      await pause();
      acme.capture(charge.id, 5000, "EUR", { reference: charge.id, at: new Date() });
      acme.remember(randomUUID(), "fingerprint", { status: 200, body: chargeBody(charge) });
      await pause();
    }
    await store?.flush();
    const totalUs = cpuUs(start);
    const lastUs = cpuUs(lastStart);
    const changes = 4 * charges;
    return {
      mode,
      changes,
      usPerChange: totalUs / changes,
      usPerChangeFirst: firstUs / (4 * window),
      usPerChangeLast: lastUs / (4 * window),
      mbWritten: (store?.bytesWritten() ?? 0) / 1e6,
      wallS: (Date.now() - startWall) / 1000,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchSandboxState(
  opts: {
    charges?: number;
    runs?: number;
    intervalMs?: number;
    modes?: Mode[];
    say?: (line: string) => void;
  } = {},
): Promise<Partial<Record<Mode, RunResult>>> {
  const charges = opts.charges ?? 5000;
  const runs = opts.runs ?? 3;
  const intervalMs = opts.intervalMs ?? 1;
  const all: Record<Mode, RunResult[]> = { none: [], rewrite: [], journal: [] };
  for (let r = 0; r < runs; r++)
    for (const mode of opts.modes ?? Object.values(Mode)) {
      const result = await runOnce(mode, charges, intervalMs);
      opts.say?.(`  run ${r + 1} ${mode}: ${JSON.stringify(result)}`);
      all[mode].push(result);
    }
  const med = (mode: Mode): RunResult => {
    const rs = all[mode];
    const pick = (k: keyof Omit<RunResult, "mode">) => median(rs.map((x) => x[k]));
    return {
      mode,
      changes: pick("changes"),
      usPerChange: pick("usPerChange"),
      usPerChangeFirst: pick("usPerChangeFirst"),
      usPerChangeLast: pick("usPerChangeLast"),
      mbWritten: pick("mbWritten"),
      wallS: pick("wallS"),
    };
  };
  return Object.fromEntries((opts.modes ?? Object.values(Mode)).map((m) => [m, med(m)]));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const arg = (name: string): number | undefined => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const charges = arg("--charges") ?? 5000;
  const runs = arg("--runs") ?? 3;
  const say = (line: string) => void process.stdout.write(`${line}\n`);
  say(`sandbox persistence, ${charges} charges x 4 changes, ${runs} runs, medians, CPU time:`);
  const i = process.argv.indexOf("--modes");
  const modes =
    i >= 0 ? (process.argv[i + 1] ?? "").split(",").filter((m): m is Mode => m in Mode) : undefined;
  const r = await benchSandboxState({ charges, runs, intervalMs: arg("--interval-ms"), modes, say });
  const none = r.none ?? { usPerChange: 0, usPerChangeLast: 0 };
  const us = (n: number) => n.toFixed(1).padStart(8);
  say(`  ${"".padEnd(8)}  us/change   first 1k    last 1k   over none (all/last)   MB written`);
  for (const m of Object.values(r).filter((x) => x !== undefined))
    say(
      `  ${m.mode.padEnd(8)}  ${us(m.usPerChange)}   ${us(m.usPerChangeFirst)}   ${us(m.usPerChangeLast)}   ${us(m.usPerChange - none.usPerChange)} /${us(m.usPerChangeLast - none.usPerChangeLast)}   ${m.mbWritten.toFixed(1).padStart(8)}`,
    );
  say(JSON.stringify(r));
}
