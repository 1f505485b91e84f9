// What the bench's report is given: the options it ran with and each flow's measured rounds
// (scripts/bench/report.ts turns them into the text report and the BENCH_RESULT line).
import type { JetStreamManager } from "@nats-io/jetstream";
import type { AfterLoad } from "./after-load.ts";
import type { OpenLoopResult, RunResult } from "./load.ts";
import type { meansMs } from "./probes.ts";
import type { ProcfileRound } from "./procfile.ts";
import type { RoutingBenchResult } from "./routing.ts";

export type Flow = "bare" | "product" | "procfile";

export type BenchOptions = {
  concurrency: number;
  durationS: number;
  warmupS: number;
  rounds: number;
  /** Only one flow (profiling): no routing micro-bench, no baseline. */
  only: Flow | undefined;
  /** Also (or, with only = procfile, just) the Procfile's roles as separate child processes. */
  procfile: boolean;
  /** Payments per second offered in open-loop mode; undefined: closed loop with `concurrency` clients. */
  openLoopRate: number | undefined;
  maxOutstanding: number;
  /** Lines of the settlement section's report (0: no settlement section). */
  settlementLines: number;
  settlementRounds: number;
  /** Profile the settlement section's last ingest in-process and print its top costs. */
  settlementCpuProf: boolean;
  /** Payments in the search section's projection (0: no search section). */
  searchPayments: number;
  /** Searches timed in it (each a first and a second page). */
  searchQueries: number;
  /** The product with tracing on, exporting to a discarding OTLP receiver (scripts/bench/tracing.ts). */
  tracing: boolean;
  /** The product with one subscribed webhook endpoint (scripts/bench/product.ts). */
  endpoint: boolean;
  /** The product on PGlite in this process, sandbox persistence on. */
  embedded: boolean;
  /** Phase mode: this many phases of `phasePayments` payments (0: the rounds). */
  phases: number;
  phasePayments: number;
  /** Phase mode: heap snapshot summaries after the first and the last phase. */
  heapSnapshots: boolean;
  /** Workers mode: the Procfile roles with each of these worker counts in turn (scripts/bench/workers.ts). */
  workers: number[] | undefined;
};

export type FlowInput = {
  /** Measured phases, one per round, in the order they ran. */
  rounds: (RunResult | OpenLoopResult)[];
  /** Event messages per accepted payment (warm-ups included) and commands left in the command stream. */
  eventMessagesPerPayment: number;
  commandsLeft: number;
};

export type ReportInput = {
  opts: BenchOptions;
  partitions: number;
  routing: RoutingBenchResult | undefined;
  /** This process's CPU with both flows up and no load, ms per second (part of every per-payment figure). */
  idleCpuMsPerS: number;
  /** What runs in the product flow, one line (scripts/bench/product.ts). */
  productSetup: string | undefined;
  /** The followers' lag after the product's last phase, then its idle CPU (scripts/bench/after-load.ts). */
  afterLoad: AfterLoad | undefined;
  bare: FlowInput | undefined;
  product: FlowInput | undefined;
  /** The procfile flow's measured phases (client's view + children's CPU) and its prefix. */
  procfile: { rounds: ProcfileRound[]; prefix: string } | undefined;
  /** The product's histograms summed over its measured phases. */
  inside: ReturnType<typeof meansMs> | undefined;
  baseline: RunResult | undefined;
  payloadBytes: number;
  machine: { cpus: number; cpuModel: string; os: string; node: string; natsServer: string };
};

// What one payment costs in JetStream traffic, from the code path (gateway/routes/payments.ts,
// streams/command-consumer.ts, actors/payment/actor.ts, streams/event-store.ts). The bare flow
// makes the same ones. Three are awaited: the command publish and the two appends.

/** A flow's rounds with what its streams say: frames per accepted payment, commands left. */
export async function facts(
  jsm: JetStreamManager,
  rounds: RunResult[],
  acceptedPayments: number,
  streams: { commands: string; events: string },
): Promise<FlowInput> {
  const evt = await jsm.streams.info(streams.events);
  const cmd = await jsm.streams.info(streams.commands);
  return {
    rounds,
    eventMessagesPerPayment: acceptedPayments > 0 ? evt.state.messages / acceptedPayments : NaN,
    commandsLeft: cmd.state.messages,
  };
}

/** Payments the flow accepted in a run: its 201s and 202s. */
export const accepted = (r: RunResult): number =>
  Object.entries(r.outcomes)
    .filter(([k]) => k.startsWith("201") || k.startsWith("202"))
    .reduce((n, [, v]) => n + v, 0);
