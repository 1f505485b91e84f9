// What the cluster fault tests check and print, apart from the cases: a bounded wait, a worker's
// metrics, payments in flight at a kill, progress after it, the line each case reports, and what
// explains a read model left incomplete.
import { expect } from "chai";
import type { LoadRun, Paid, Tally } from "./merchant-load.ts";
import { waitFor } from "./wait.ts";
import type { WorkerProcess } from "./worker-process.ts";

/** The promise's value, or a failure naming `what` once `ms` have passed without one. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** A worker's /metrics, from the address it logged (SWITCHYARD_WORKER_METRICS_PORT=0: a free port). */
export async function metricsOf(w: WorkerProcess): Promise<string> {
  const line = await w.waitForLog((l) => l.msg === "worker metrics listening", "its metrics door");
  return (await fetch(`${String(line.url)}/metrics`)).text();
}

/** One series' value in a Prometheus exposition (0 when absent). */
export function metricOf(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** At least one payment was between its create and its capture when the kill came. */
export function expectInFlightAt(paid: Paid[], at: number): void {
  expect(
    paid.filter((p) => p.startedAt < at && p.doneAt > at),
    "payments in flight at the kill",
  ).not.to.be.empty;
}

export function report(what: string, tally: Tally, paid: Paid[], timings: Record<string, string>): void {
  const slowest = Math.max(...paid.map((p) => p.doneAt - p.startedAt));
  console.log(
    `      ${what}: ${paid.length} payments (create → capture), ${tally.requests} requests; retried after ` +
      `${tally.connectionErrors} connection errors (${tally.cut} cut mid-request), ${tally.timeouts} timeouts, ${tally.unavailable} 503s; ` +
      `${tally.accepted} 202s; slowest payment ${slowest} ms`,
  );
  for (const [k, v] of Object.entries(timings)) console.log(`        ${k}: ${v}`);
}

/**
 * Why the read model is not complete: the payments it lists otherwise (or not at all), and what the
 * projector logged at warn and above — printed, for a failure a CI log must explain by itself.
 */
export function explainReadModel(
  ids: ReadonlySet<string>,
  listed: ReadonlyArray<{ id: string; status: string }>,
  projector: WorkerProcess,
): void {
  const status = new Map(listed.map((l) => [l.id, l.status]));
  const behind = [...ids].filter((id) => status.get(id) !== "captured");
  console.log(
    `        read model: ${behind.length} of ${ids.size} payments not captured there: ` +
      behind
        .slice(0, 10)
        .map((id) => `${id} ${status.get(id) ?? "absent"}`)
        .join(", "),
  );
  for (const l of projector
    .logs()
    .filter((l) => (l.level ?? 0) >= 40)
    .slice(-30))
    console.log(`        projector: ${JSON.stringify(l).slice(0, 400)}`);
}

/**
 * Resolves, with the delay, once `n` payments started after `since` have finished (waiting at most
 * the longer of 45 s and `atRestMs`).
 */
export async function afterProgress(
  load: LoadRun,
  since: number,
  n: number,
  atRestMs: number,
): Promise<number> {
  const done = await waitFor(
    () => {
      const after = load.finished().filter((p) => p.startedAt >= since);
      return after.length >= n ? after : undefined;
    },
    {
      timeoutMs: Math.max(45_000, atRestMs),
      what: `${n} payments started after ${new Date(since).toISOString()}`,
    },
  );
  return Math.min(...done.map((p) => p.doneAt)) - since;
}
