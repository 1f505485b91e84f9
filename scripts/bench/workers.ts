// The workers mode of `npm run bench` (--workers N[,N...]; issue 19, "How far it goes"): the
// Procfile's roles as child processes (scripts/bench/procfile.ts) with N worker processes, for each N
// in turn, then one worker on one partition (SWITCHYARD_PARTITIONS=1: what a single partition
// carries). Each set runs under a prefix of its own, is measured and removed before the next starts,
// so only one set's processes share the machine at a time. Each of its measured phases comes right
// after a phase of the single process (the product, in this process) driven by the same client: on a
// shared machine the product's rate beside it says how busy the machine was. Per set: rate, p50/p99,
// CPU per payment of every child summed and per role, and its ratio to the first set's (flat is the
// goal). With the largest N >= 2, a worker is SIGKILLed under load at the end
// (scripts/bench/rebalance.ts). The mode only spawns processes and kills one, so it measures today's
// shared consumers and partition ownership by lease alike; SWITCHYARD_LEASE_TTL_MS and every other
// SWITCHYARD_ variable of the environment reach the children unchanged.
import type { NatsConnection } from "@nats-io/transport-node";
import { benchPrefix, removePrefix } from "./cleanup.ts";
import { closedLoop, type Op } from "./load.ts";
import { paymentClient } from "./probes.ts";
import {
  BENCH_MERCHANT,
  childCpuDelta,
  childSum,
  firstPayment,
  startProcfile,
  type Procfile,
} from "./procfile.ts";
import { measureRebalance } from "./rebalance.ts";
import { workersReport, type WorkerSet, type WorkerSetResult } from "./workers-report.ts";

export type WorkersModeInput = {
  counts: number[];
  /** The partitions of every set but the last (the platform's configured count, 64 by default). */
  partitions: number;
  concurrency: number;
  warmupS: number;
  durationS: number;
  rounds: number;
  natsUrl: string;
  redisUrl: string;
  nc: NatsConnection;
  apiKey: string;
  dataDir: string;
  /** The single process (the product flow), measured right before each set's phase. */
  product: Op;
  signal: AbortSignal;
  say: (line: string) => void;
};

export type { WorkerSet, WorkerSetResult } from "./workers-report.ts";

const FIRST_WARMUP_S = 5;
const IDLE_MS = 3_000;

/** Environment with defaults as config/env.ts has them: the kill's wait limit is derived from them. */
const envMs = (name: string, fallback: number) => {
  const n = Number(process.env[name]);
  return Number.isFinite(n) && n > 0 ? n : fallback;
};

/**
 * Give up waiting after a kill: the longer of the command ack wait (today's recovery of a dead
 * worker's in-flight commands) and the lease TTL (with ownership), plus the gateway's reply wait and
 * some slack for a loaded machine.
 */
export function rebalanceLimitMs(): number {
  const ackWait = envMs("SWITCHYARD_COMMAND_ACK_WAIT_MS", 30_000);
  const leaseTtl = envMs("SWITCHYARD_LEASE_TTL_MS", 10_000);
  const replyWait = envMs("SWITCHYARD_REPLY_WAIT_MS", 10_000);
  return Math.max(ackWait, leaseTtl) + replyWait + 15_000;
}

/** Runs the workers mode; prints its report and BENCH_RESULT; resolves to the exit code. */
export async function workersMode(i: WorkersModeInput): Promise<number> {
  const sets: WorkerSet[] = i.counts.map((workers) => ({ workers, partitions: i.partitions }));
  if (i.partitions > 1) sets.push({ workers: 1, partitions: 1 });
  const killIn = Math.max(...i.counts) >= 2 ? Math.max(...i.counts) : undefined;
  i.say(
    `workers mode: ${sets.map((s) => `${s.workers} worker(s) on ${s.partitions} partition(s)`).join(", then ")}; ` +
      `each ${i.rounds} round(s) of product then Procfile roles, ${i.warmupS} s warm-up + ${i.durationS} s, ${i.concurrency} clients` +
      (killIn === undefined ? "" : `; a worker killed at the end of the ${killIn}-worker set`),
  );
  const results: WorkerSetResult[] = [];
  const problems: string[] = [];
  let firstProduct = true;
  for (const set of sets) {
    if (i.signal.aborted) break;
    const kill = set.workers === killIn && set.partitions === i.partitions;
    const prefix = benchPrefix();
    let children: Procfile | undefined;
    let client: { op: Op; close(): void } | undefined;
    try {
      i.say(
        `starting the Procfile roles: ${set.workers} worker(s), ${set.partitions} partition(s) (prefix ${prefix})`,
      );
      children = await startProcfile({
        prefix,
        natsUrl: i.natsUrl,
        redisUrl: i.redisUrl,
        partitions: set.partitions,
        workers: set.workers,
        apiKey: i.apiKey,
        dataDir: i.dataDir,
        log: i.say,
        signal: i.signal,
      });
      client = paymentClient(children.url, i.apiKey, i.concurrency);
      await firstPayment(client.op);
      const result: WorkerSetResult = {
        ...set,
        prefix,
        rounds: [],
        product: [],
        idleMsPerS: undefined,
        rebalance: undefined,
      };
      for (let round = 1; round <= i.rounds && !i.signal.aborted; round++) {
        await closedLoop(i.concurrency, warmup(i, firstProduct) * 1000, i.product, i.signal);
        firstProduct = false;
        const product = await closedLoop(i.concurrency, i.durationS * 1000, i.product, i.signal);
        await closedLoop(i.concurrency, warmup(i, round === 1) * 1000, client.op, i.signal);
        const before = children.cpuMs();
        const run = await closedLoop(i.concurrency, i.durationS * 1000, client.op, i.signal);
        const after = children.cpuMs();
        if (i.signal.aborted) break;
        if (!before || !after) throw new Error("a procfile child process ended during the run");
        const childCpuMs = childCpuDelta(before, after);
        result.product.push(product);
        result.rounds.push({ run, childCpuMs });
        i.say(
          `${set.workers} worker(s), ${set.partitions} partition(s), round ${round}: ${run.perSecond.toFixed(1)}/s, ` +
            `p50 ${run.latencyMs.p50.toFixed(1)} ms, children ${(childSum(childCpuMs) / run.completed).toFixed(2)} ms CPU/payment` +
            `  (product beside it ${product.perSecond.toFixed(1)}/s)`,
        );
      }
      const idleFrom = children.cpuMs();
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
      const idleTo = children.cpuMs();
      if (idleFrom && idleTo) {
        const d = childCpuDelta(idleFrom, idleTo);
        const perS = (v: number) => (v * 1000) / IDLE_MS;
        result.idleMsPerS = {
          gateway: perS(d.gateway),
          worker: perS(d.worker),
          projector: perS(d.projector),
          sandbox: perS(d.sandbox),
        };
      }
      if (kill && !i.signal.aborted) {
        const procfile = children;
        result.rebalance = await measureRebalance({
          url: procfile.url,
          apiKey: i.apiKey,
          concurrency: i.concurrency,
          partitions: set.partitions,
          merchantId: BENCH_MERCHANT,
          workers: set.workers,
          kill: () => procfile.killWorker(set.workers - 1),
          limitMs: rebalanceLimitMs(),
          signal: i.signal,
          say: i.say,
        });
      }
      results.push(result);
    } finally {
      client?.close();
      await children?.stop().catch((err: unknown) => problems.push(`stopping ${prefix}: ${String(err)}`));
      problems.push(...(await removePrefix(i.nc, i.redisUrl, prefix)));
    }
  }
  for (const p of problems) i.say(`cleanup failed: ${p}`);
  if (i.signal.aborted) return 130;
  const { lines, json, errors } = workersReport(results, {
    concurrency: i.concurrency,
    durationS: i.durationS,
    rounds: i.rounds,
  });
  process.stdout.write(`${lines.join("\n")}\n`);
  process.stdout.write(`BENCH_RESULT ${JSON.stringify({ workers: json })}\n`);
  if (errors > 0) i.say(`${errors} requests failed: the figures above are not trustworthy`);
  return errors > 0 || problems.length > 0 ? 1 : 0;
}

const warmup = (i: WorkersModeInput, first: boolean) =>
  first ? Math.max(i.warmupS, FIRST_WARMUP_S) : i.warmupS;
