// With SWITCHYARD_PROJECTIONS=thread, the followers' thread's own CPU time over a product phase's
// measured window: the followers' share of a payment measured in the payments' own window, rather
// than as the difference of two phases (which this machine's drift between minutes makes noisy).
// The thread gives its OS id in its stats; its CPU time is /proc/self/task/<id> (Linux).
import type { Platform } from "../platform.ts";
import type { RunResult } from "./load.ts";
import { procCpuMs } from "./procfile.ts";

async function threadCpu(platform: Platform | undefined): Promise<{ tid: number; ms: number } | undefined> {
  const tid = (await platform?.projectionsThread?.stats())?.osThreadId;
  const ms = tid === undefined ? undefined : procCpuMs(process.pid, tid);
  return tid === undefined || ms === undefined ? undefined : { tid, ms };
}

/** Reads the thread's CPU now; `end` reads it again and sets the window's followersThreadCpuMs. */
export async function followersWindow(
  platform: Platform | undefined,
): Promise<{ end(run: RunResult): Promise<void> }> {
  const before = await threadCpu(platform);
  return {
    async end(run) {
      const after = before === undefined ? undefined : await threadCpu(platform);
      // The same thread at both ends (a restart in between would mix two threads' clocks).
      if (before && after && before.tid === after.tid) run.cpu.followersThreadCpuMs = after.ms - before.ms;
    },
  };
}

/**
 * The round line's note of the followers' thread: its CPU per payment, part of the product's, and
 * as a multiple of the bare flow's whole CPU per payment in its latest phase (same round).
 */
export function followersShare(run: RunResult, bare: RunResult | undefined): string {
  const ms = run.cpu.followersThreadCpuMs;
  if (ms === undefined || run.completed === 0) return "";
  const perPayment = ms / run.completed;
  const bareMs = bare && bare.completed > 0 ? bare.cpu.processCpuMs / bare.completed : undefined;
  return (
    `; of it the followers' thread ${perPayment.toFixed(3)} ms/payment` +
    (bareMs === undefined ? "" : ` (${(perPayment / bareMs).toFixed(2)} × the bare flow's whole payment)`)
  );
}
