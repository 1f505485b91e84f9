// What the product's RSS holds (issue 17: "a memory figure per component"), for the phase mode:
// the process's own split (V8 heap used/total, external, array buffers: process.memoryUsage; the V8
// heap by space), and the sizes of the platform's in-memory structures reachable through what
// startPlatform returns: live payment actors (the registry), the payments the janitor watches, the
// payment states the webhook dispatcher caches, the sandbox PSP's charges and sent notifications,
// its state file's journal, the metric series, the read models' positions. For anything else, an
// optional heap snapshot summary: self size by constructor name, top 15
// (scripts/bench/heap-summary.ts, parsed in a child process).
import { DISPATCHER_CACHE } from "../../actors/webhooks/dispatcher.ts";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { getHeapSpaceStatistics, setFlagsFromString, writeHeapSnapshot } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Platform } from "../platform.ts";
import { summarizeInChild, type HeapSummary } from "./heap-summary.ts";

export type MemoryFigures = {
  /** process.memoryUsage(), bytes. */
  process: { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number };
  /**
   * The V8 heap still used after a full garbage collection (what is live: heapUsed above also counts
   * garbage not yet collected, which swings by hundreds of MB under load), and the RSS then.
   */
  afterGc: { heapUsed: number; rss: number };
  /** The kernel's split of the RSS (/proc/self/status, Linux): anonymous, file-backed, shared; bytes. */
  kernel: Record<string, number>;
  /** V8 heap used per space, bytes. */
  spaces: Record<string, number>;
  /** Counts of the platform's reachable in-memory structures. */
  structures: Record<string, number>;
};

export async function memoryFigures(platform: Platform): Promise<MemoryFigures> {
  const m = process.memoryUsage();
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size]));
  const structures: Record<string, number> = {};
  if (platform.worker) {
    structures["live payment actors (registry)"] = platform.worker.registry.size;
    structures["janitor: payments watched (open)"] = platform.worker.janitor.watching;
  }
  if (platform.webhooks)
    structures[`webhook dispatcher: payment states cached (LRU, at most ${DISPATCHER_CACHE})`] =
      platform.webhooks.dispatcher.cached;
  const sandbox = platform.sandbox;
  if (sandbox) {
    structures["sandbox PSP charges kept"] = sandbox.charges().length;
    structures["sandbox PSP charges let go of (SANDBOX_RETAIN_CHARGES)"] = sandbox.forgotten();
    structures["sandbox PSP notifications kept"] = sandbox.notifications().length;
    const p = sandbox.persistence();
    if (p) {
      structures["sandbox state: journal lines written"] = p.lines;
      structures["sandbox state: compactions"] = p.compactions;
    }
  }
  // Every labelled series is an object the registry keeps (a label per merchant or route would grow).
  const series = (await platform.metrics.registry.getMetricsAsJSON()).reduce(
    (n, x) => n + x.values.length,
    0,
  );
  structures["metric series (registry values)"] = series;
  for (const [name, f] of platform.readModels?.followers ?? [])
    structures[`read model ${name}: position`] = f.position;
  // On their own thread the followers' objects are out of reach: the thread's V8 heap, as a whole
  // (in the process's RSS, not in this thread's heap figures).
  const thread = await platform.projectionsThread?.stats();
  if (thread) {
    structures["projections thread: V8 heap used (bytes)"] = thread.heapUsedBytes;
    structures["projections thread: V8 heap total (bytes)"] = thread.heapTotalBytes;
  }
  fullGc();
  const after = process.memoryUsage();
  return {
    afterGc: { heapUsed: after.heapUsed, rss: after.rss },
    process: {
      rss: m.rss,
      heapTotal: m.heapTotal,
      heapUsed: m.heapUsed,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
    },
    kernel: kernelSplit(),
    spaces,
    structures,
  };
}

/**
 * A full, synchronous garbage collection. The bench runs without --expose-gc (npm run bench is plain
 * tsx), so the flag is set now and gc() taken from a fresh context, where V8 then installs it.
 */
function fullGc(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

/** RssAnon, RssFile, RssShmem (bytes) and Threads from /proc/self/status; empty where there is none. */
function kernelSplit(): Record<string, number> {
  let status: string;
  try {
    status = readFileSync("/proc/self/status", "utf8");
  } catch {
    return {};
  }
  const out: Record<string, number> = {};
  for (const m of status.matchAll(/^(RssAnon|RssFile|RssShmem|Threads):\s+(\d+)( kB)?/gm))
    out[m[1]!] = Number(m[2]) * (m[3] ? 1024 : 1);
  return out;
}

/** A heap snapshot of this process into `dir`, summarized in a child process, then removed. */
export async function heapSummary(dir: string, label: string): Promise<HeapSummary> {
  const file = writeHeapSnapshot(join(dir, `bench-${label}.heapsnapshot`));
  try {
    return await summarizeInChild(file, 15);
  } finally {
    rmSync(file, { force: true });
  }
}

const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`;

/** The figure, first against last, as report lines. */
export function memoryLines(
  first: { label: string; m: MemoryFigures; heap?: HeapSummary },
  last: { label: string; m: MemoryFigures; heap?: HeapSummary },
): string[] {
  const pad = (s: string) => s.padEnd(46);
  const row = (name: string, a: string, b: string) => `  ${pad(name)}${a.padStart(20)}${b.padStart(20)}`;
  const out = [`memory per component (${first.label} vs ${last.label}):`, row("", first.label, last.label)];
  for (const k of ["rss", "heapTotal", "heapUsed", "external", "arrayBuffers"] as const)
    out.push(row(`process ${k}`, mb(first.m.process[k]), mb(last.m.process[k])));
  out.push(
    row("V8 heap used after a full GC (live)", mb(first.m.afterGc.heapUsed), mb(last.m.afterGc.heapUsed)),
  );
  out.push(row("process rss after that GC", mb(first.m.afterGc.rss), mb(last.m.afterGc.rss)));
  const rest = (m: MemoryFigures) => m.process.rss - m.process.heapTotal - m.process.external;
  out.push(row("RSS outside the V8 heap and external", mb(rest(first.m)), mb(rest(last.m))));
  for (const k of Object.keys(last.m.kernel)) {
    const show = k === "Threads" ? String : mb;
    out.push(row(`  kernel ${k}`, show(first.m.kernel[k] ?? 0), show(last.m.kernel[k] ?? 0)));
  }
  for (const space of Object.keys(last.m.spaces))
    out.push(row(`  V8 ${space} used`, mb(first.m.spaces[space] ?? 0), mb(last.m.spaces[space] ?? 0)));
  for (const k of Object.keys(last.m.structures))
    out.push(row(k, String(first.m.structures[k] ?? "-"), String(last.m.structures[k])));
  if (first.heap && last.heap) {
    const a = first.heap;
    const b = last.heap;
    out.push(
      `  heap snapshot, self size by constructor (top 15 of ${last.label}; total ${mb(a.totalBytes)} → ${mb(b.totalBytes)}):`,
    );
    for (const r of b.top) {
      const before = a.top.find((x) => x.name === r.name);
      out.push(
        row(
          `    ${r.name.slice(0, 40)}`,
          before ? `${mb(before.selfBytes)} ×${before.count}` : "(not top 15)",
          `${mb(r.selfBytes)} ×${r.count}`,
        ),
      );
    }
  }
  return out;
}
