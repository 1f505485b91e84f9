// What the product does once the load stops (issue 17): how far behind its followers were at the
// last answer — the time from the last response of a load phase until the payments read model has
// applied the event stream's last frame (the merchant's GET list shows every payment as it is), and
// until the webhook dispatcher's durable consumer has acknowledged it — and how much CPU the process
// burns afterwards with no load at all (an idle process should be idle however much it has seen):
// first the seconds right after the drain, when V8 is still collecting what the load left (its
// helper threads) and the table upkeep may vacuum, then a longer window once that has settled — the
// process as an operator finds it a minute later. Each with the main thread's part (from /proc).
import { performance } from "node:perf_hooks";
import { PAYMENTS_READ_MODEL } from "../../actors/projections/payments.ts";
import type { Platform } from "../platform.ts";
import { procCpuMs } from "./procfile.ts";

export type AfterLoad = {
  /** ms from the last answer until the payments read model applied the last frame (null: no read models). */
  readModelLagMs: number | null;
  /** ms until the webhook dispatcher acknowledged the last frame (null: no dispatcher). */
  webhooksLagMs: number | null;
  /** The event stream's last sequence when the load stopped. */
  lastSeq: number;
  /** This process's CPU over `idleMs` right after, ms per second. */
  idleCpuMsPerS: number;
  /** ... of which its main thread (null where /proc is not there to say). */
  idleMainMsPerS: number | null;
  /**
   * The wall time of the table upkeep's vacuums and analyzes in the window, ms per second
   * (switchyard_db_upkeep_seconds_total; on PGlite this process's thread, else the server's work; 0
   * where autovacuum runs).
   */
  idleUpkeepMsPerS: number;
  idleMs: number;
  /** The same over the `settledMs` after that window. */
  settledCpuMsPerS: number;
  settledMainMsPerS: number | null;
  settledUpkeepMsPerS: number;
  settledMs: number;
  /** Deliveries the bench's webhook endpoint had received once the dispatcher caught up (null: none subscribed). */
  delivered: number | null;
  /** ms from the last answer until the endpoint's last delivery arrived (no new one for a second after). */
  deliveriesDrainedMs: number | null;
  /** Deliveries received once they had drained. */
  deliveredAtDrain: number | null;
  /** ... and once the idle window ended: more means deliveries were still going out during it. */
  deliveredAfterIdle: number | null;
};

/** Give up waiting for a follower after this long: the figure is then reported as "more than". */
const WAIT_AT_MOST_MS = 120_000;

/**
 * The followers' lag at the end of a load phase that ended (its last answer) at `endedAt`
 * (performance.now()), then this process's CPU over `idleMs` with no load.
 */
export async function afterLoad(
  platform: Platform,
  endedAt: number,
  receiver?: { delivered(): number },
  idleMs = 5_000,
  settledMs = 20_000,
): Promise<AfterLoad> {
  const infra = platform.infra;
  if (!infra) throw new Error("the product runs no worker here: nothing follows its streams");
  const lastSeq = (await infra.jsm.streams.info(infra.topo.eventStream)).state.last_seq;
  // In this event loop, the follower says when it has applied the frame; on the projections thread
  // (or nowhere here), its position in PostgreSQL does.
  const follower = platform.readModels?.followers.get(PAYMENTS_READ_MODEL);
  const threaded = platform.projectionsThread !== undefined;
  const readModel = follower
    ? within(follower.caughtUp(lastSeq)).then((done) => (done ? performance.now() - endedAt : null))
    : threaded
      ? positionCaughtUp(PAYMENTS_READ_MODEL)
      : Promise.resolve(null);
  const webhooks =
    platform.config.webhooks.enabled && (platform.readModels || threaded)
      ? positionCaughtUp("webhooks")
      : null;
  const [readModelLagMs, webhooksLagMs] = await Promise.all([readModel, webhooks]);
  const delivered = receiver?.delivered() ?? null;
  // The sender works after the dispatcher has stored the deliveries: the idle window starts once
  // the endpoint has seen no new delivery for a second, so it measures idleness, not the backlog.
  const drained = receiver ? await deliveriesDrained(receiver, endedAt) : undefined;
  // The upkeep runs where the projections run: the thread's series come merged into render's text.
  const upkeepMs = threaded
    ? async () =>
        (await platform.metrics.render())
          .split("\n")
          .filter((line) => line.startsWith("switchyard_db_upkeep_seconds_total{"))
          .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)) * 1000, 0)
    : async () =>
        (await platform.metrics.dbUpkeepSeconds.get()).values.reduce((sum, v) => sum + v.value * 1000, 0);
  const idle = await cpuOver(idleMs, upkeepMs);
  const settled = await cpuOver(settledMs, upkeepMs);
  return {
    delivered,
    deliveriesDrainedMs: drained?.ms ?? null,
    deliveredAtDrain: drained?.count ?? null,
    deliveredAfterIdle: receiver?.delivered() ?? null,
    readModelLagMs: follower || threaded ? (readModelLagMs ?? WAIT_AT_MOST_MS) : null,
    webhooksLagMs,
    lastSeq,
    idleCpuMsPerS: idle.all,
    idleMainMsPerS: idle.main,
    idleUpkeepMsPerS: idle.upkeep,
    idleMs,
    settledCpuMsPerS: settled.all,
    settledMainMsPerS: settled.main,
    settledUpkeepMsPerS: settled.upkeep,
    settledMs,
  };

  /** A follower's position: it moves in the transaction that applies its batch (for the webhook
   * dispatcher, the one that stores the frame's deliveries). */
  async function positionCaughtUp(name: string): Promise<number> {
    const { sql } = infra!.db;
    const deadline = performance.now() + WAIT_AT_MOST_MS;
    while (performance.now() < deadline) {
      const [row] = await sql<{ last_seq: number }[]>`
        select last_seq from projection_offsets where name = ${name}`;
      if ((row?.last_seq ?? 0) >= lastSeq) return performance.now() - endedAt;
      await new Promise((r) => setTimeout(r, 10));
    }
    return WAIT_AT_MOST_MS;
  }
}

/** When the receiver's count last moved, once it has stood still for QUIET_MS (at most WAIT_AT_MOST_MS). */
async function deliveriesDrained(
  receiver: { delivered(): number },
  endedAt: number,
): Promise<{ ms: number; count: number }> {
  let count = receiver.delivered();
  let movedAt = performance.now();
  while (performance.now() - movedAt < QUIET_MS && performance.now() - endedAt < WAIT_AT_MOST_MS) {
    await new Promise((r) => setTimeout(r, 50));
    const now = receiver.delivered();
    if (now !== count) [count, movedAt] = [now, performance.now()];
  }
  // The receiver reports arrivals every 50 ms: the last one came up to that much before it was seen.
  return { ms: Math.max(0, movedAt - endedAt), count };
}

/** No delivery for this long: the endpoint's backlog is drained. */
const QUIET_MS = 1_000;

const within = (p: Promise<void>) =>
  new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), WAIT_AT_MOST_MS);
    p.then(
      () => resolve(true),
      () => resolve(false),
    ).finally(() => clearTimeout(timer));
  });

/** This process's CPU over `ms` of wall time, ms per second (user + system, all threads). */
export async function idleCpu(ms: number): Promise<number> {
  return (await cpuOver(ms)).all;
}

/**
 * ms per second over `ms` of wall time: all threads, the main thread alone (null without /proc), and
 * the time a counter of ms (the table upkeep's) moved meanwhile.
 */
async function cpuOver(
  ms: number,
  counterMs: () => Promise<number> = () => Promise.resolve(0),
): Promise<{ all: number; main: number | null; upkeep: number }> {
  const counted = await counterMs();
  const before = process.cpuUsage();
  // The main thread's task id is the process id.
  const mainBefore = procCpuMs(process.pid, process.pid);
  await new Promise((resolve) => setTimeout(resolve, ms));
  const used = process.cpuUsage(before);
  const mainAfter = procCpuMs(process.pid, process.pid);
  const perS = (v: number) => v / (ms / 1000);
  return {
    all: perS((used.user + used.system) / 1000),
    main: mainBefore === undefined || mainAfter === undefined ? null : perS(mainAfter - mainBefore),
    upkeep: perS((await counterMs()) - counted),
  };
}

export function afterLoadLines(a: AfterLoad, what: string): string[] {
  const lag = (ms: number | null) =>
    ms === null
      ? "n/a (off)"
      : ms >= WAIT_AT_MOST_MS
        ? `more than ${WAIT_AT_MOST_MS / 1000} s`
        : `${Math.round(ms)} ms`;
  return [
    `after the load (${what}; event stream at seq ${a.lastSeq}):`,
    `  payments read model caught up ${lag(a.readModelLagMs)} after the last answer` +
      `;  webhook dispatcher ${lag(a.webhooksLagMs)}` +
      (a.delivered === null ? "" : ` (the endpoint had received ${a.delivered} deliveries by then)`),
    ...(a.deliveriesDrainedMs === null
      ? []
      : [
          `  webhook deliveries drained ${lag(a.deliveriesDrainedMs)} after the last answer ` +
            `(${a.deliveredAtDrain} received; none for ${QUIET_MS / 1000} s after)`,
        ]),
    `  then idle${a.deliveriesDrainedMs === null ? "" : " (from the drain)"}: ${a.idleCpuMsPerS.toFixed(1)} ms CPU per second over ${a.idleMs / 1000} s ` +
      `(${pct(a.idleCpuMsPerS)} of a core; this process, all its threads${mainPart(a.idleMainMsPerS)}${upkeepPart(a.idleUpkeepMsPerS)})` +
      (a.deliveredAfterIdle !== null && a.deliveredAfterIdle !== (a.deliveredAtDrain ?? a.delivered)
        ? `; webhook deliveries still going out meanwhile: ${a.deliveredAtDrain ?? a.delivered} → ${a.deliveredAfterIdle}`
        : ""),
    `  settled (the ${a.settledMs / 1000} s after that): ${a.settledCpuMsPerS.toFixed(1)} ms CPU per second ` +
      `(${pct(a.settledCpuMsPerS)} of a core${mainPart(a.settledMainMsPerS)}${upkeepPart(a.settledUpkeepMsPerS)})`,
  ];
}

const pct = (msPerS: number) => `${((msPerS / 1000) * 100).toFixed(1)} %`;
const mainPart = (msPerS: number | null) => (msPerS === null ? "" : `; its main thread ${pct(msPerS)}`);
/**
 * The table upkeep's one pass over what the load changed, when it fell in the window: wall time of
 * its vacuums and analyzes — this process's main thread on PGlite, the server's own work elsewhere.
 */
const upkeepPart = (msPerS: number) =>
  msPerS > 0
    ? `; the table upkeep's vacuums and analyzes ran ${pct(msPerS)} of the window (on PGlite in this thread, else in the server)`
    : "";
