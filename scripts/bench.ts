// `npm run bench`: how many payments per second this machine turns through the whole platform (the
// product), next to the bare flow (scripts/bench/bare.ts: the same steps written directly, nothing
// else) driven by the same client in the same run — product ÷ bare is the yardstick, because on a
// shared machine absolute numbers drift while a ratio of alternating phases holds. Before any server
// or flow runs (their load would disturb it) it times the routing decision alone on a 200-rule
// policy (scripts/bench/routing.ts). Then it starts (or reuses) NATS and Redis, runs the product
// (sandbox + worker + gateway as npm start runs them, with one subscribed webhook endpoint:
// scripts/bench/product.ts; --embedded puts PGlite in the process) and the bare flow in this process
// under one unique prefix, and alternates them — bare, product, bare, product … — each phase a warm-up then a
// measured window, with the same load: closed loop with C clients, or open loop at a fixed arrival
// rate. After the product's last phase, its followers' lag and its idle CPU (scripts/bench/after-load.ts).
// Last, the raw JetStream publish rate with the same client (the older baseline). It prints a
// report and one `BENCH_RESULT {json}` line and removes everything it created.
//
// With --procfile a third flow joins the rounds: the Procfile's roles as child processes under a
// prefix of their own (scripts/bench/procfile.ts), driven right after the product's phase (does the
// split beat the single process here?); their CPU is read from /proc, beside the single process's.
//
// Options: `npm run bench -- --help` (USAGE in scripts/bench/options.ts); an unknown one stops the
// run (exit 2) before anything starts. Exit 0 when it ran and cleaned up; 1 when it failed, or when
// any request or publish errored (errors are fast and would inflate the rate).
//
// Then the sections (scripts/bench/webhooks.ts, settlement.ts, search.ts; `--only decompose`:
// decompose.ts). Profiling one flow alone (`--only product|bare` under node --cpu-prof, then
// scripts/bench/profile-summary.ts on the larger profile): README, "Benchmark".
import { randomBytes } from "node:crypto";
import { cpus, platform as osPlatform, release } from "node:os";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { performance } from "node:perf_hooks";
import { ConfigError, DEFAULT_NATS_URL, DEFAULT_REDIS_URL, loadConfig, type Config } from "../config/env.ts";
import { topology } from "../streams/topology.ts";
import { afterLoad, idleCpu, type AfterLoad } from "./bench/after-load.ts";
import { startBare, type BareFlow } from "./bench/bare.ts";
import { pspShare, startOutside, type Outside } from "./bench/outside.ts";
import { benchPrefix, cleanUp, makeTempDir, sweepKilledRuns } from "./bench/cleanup.ts";
import { closedLoop, openLoop, type Op, type RunResult } from "./bench/load.ts";
import {
  childCpuDelta,
  childSum,
  firstPayment,
  startProcfile,
  type Procfile,
  type ProcfileRound,
} from "./bench/procfile.ts";
import {
  addWindow,
  meansMs,
  noTotals,
  paymentClient,
  platformTotals,
  rawPublisher,
  sampleCommand,
} from "./bench/probes.ts";
import { helpAsked, options, sectionOnly, UsageError, USAGE } from "./bench/options.ts";
import { decomposeSection } from "./bench/decompose.ts";
import { followersShare, followersWindow } from "./bench/followers-share.ts";
import { phaseMode } from "./bench/phases.ts";
import { workersMode } from "./bench/workers.ts";
import { benchEnv, startProduct, type ProductRun } from "./bench/product.ts";
import { report, type BenchOptions, type Flow } from "./bench/report.ts";
import { accepted, facts } from "./bench/report-input.ts";
import { benchRouting } from "./bench/routing.ts";
import { searchSection } from "./bench/search.ts";
import { settlementSection } from "./bench/settlement.ts";
import { webhooksSection } from "./bench/webhooks.ts";
import {
  ensureServices,
  MissingServiceError,
  ServiceStartError,
  type LocalServices,
} from "./local-services.ts";
import type { Platform } from "./platform.ts";
import { startBenchTracing, type BenchTracing } from "./bench/tracing.ts";

/** The least warm-up of each flow's first phase, seconds (unless --warmup asks for more). */
const FIRST_WARMUP_S = 5;

const say = (line: string) => process.stderr.write(`bench: ${line}\n`);

async function main(): Promise<number> {
  if (helpAsked()) {
    process.stdout.write(USAGE);
    return 0;
  }
  const opts = options();
  // The sections last: the flows' servers are gone by then, so none disturbs another.
  const section = sectionOnly();
  if (section === "decompose") return decomposeSection({ ...opts, say });
  let code = section ? 0 : await flowsBench(opts);
  if (code !== 0 || ((opts.only || opts.phases > 0 || opts.workers) && !section)) return code;
  // Webhooks: in a full run, and alone with --only webhooks.
  if (section === undefined || section === "webhooks")
    code = await webhooksSection({
      concurrency: opts.concurrency,
      durationS: opts.durationS,
      warmupS: Math.max(opts.warmupS, 2),
      rounds: opts.rounds,
      say,
    });
  if (code !== 0 || section === "webhooks") return code;
  if (section !== "search" && opts.settlementLines > 0)
    code = await settlementSection({
      lines: opts.settlementLines,
      rounds: opts.settlementRounds,
      cpuProf: opts.settlementCpuProf,
      say,
    });
  if (code !== 0 || section === "settlement" || opts.searchPayments === 0) return code;
  return searchSection({ payments: opts.searchPayments, searches: opts.searchQueries, say });
}

async function flowsBench(opts: BenchOptions): Promise<number> {
  // Procfile right after product: the two phases being compared sit next to each other in time.
  // The workers mode starts its own Procfile sets (scripts/bench/workers.ts); the product is its reference.
  const flows: Flow[] = opts.workers
    ? ["product"]
    : opts.only
      ? [opts.only]
      : opts.procfile
        ? ["bare", "product", "procfile"]
        : ["bare", "product"];
  const natsUrl = process.env.NATS_URL ?? DEFAULT_NATS_URL;
  const redisUrl = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
  // Pure CPU, so it goes first: no server started here and no flow shares the machine yet.
  let routing: Awaited<ReturnType<typeof benchRouting>> | undefined;
  if (!opts.only && opts.phases === 0 && !opts.workers) {
    say("routing decision alone: 200-rule policy");
    routing = await benchRouting({ rules: 200 });
  }
  // Servers started here keep their data where `npm start` keeps it; the run's own state is temporary.
  const services: LocalServices = await ensureServices({
    natsUrl,
    redisUrl,
    dataDir: process.env.SWITCHYARD_DATA_DIR ?? ".data",
    log: say,
  });

  const prefix = benchPrefix();
  const apiKey = `sk_bench_${randomBytes(16).toString("hex")}`;
  const cardKey = randomBytes(32);
  // Ctrl-C ends the current phase early and still cleans up. `on`, not `once`: tsx relays the
  // signal again when the child is slow to acknowledge it, and with no listener left it would exit.
  const abort = new AbortController();
  process.on("SIGINT", () => {
    if (!abort.signal.aborted) say("interrupted: stopping the load, cleaning up");
    abort.abort();
  });
  let dataDir: string | undefined;
  let nc: NatsConnection | undefined;
  let platform: Platform | undefined;
  let productRun: ProductRun | undefined;
  let bare: BareFlow | undefined;
  let outside: Outside | undefined;
  let tracing: BenchTracing | undefined;
  let children: Procfile | undefined;
  // Chosen before start-up, so cleanup removes its streams even when the children never got ready.
  const procfilePrefix = flows.includes("procfile") ? benchPrefix() : undefined;
  const clients: { op: Op; close(): void }[] = [];
  try {
    dataDir = makeTempDir();
    const env = benchEnv({ natsUrl, redisUrl, prefix, apiKey, cardKey, dataDir, embedded: opts.embedded });
    const config: Config = loadConfig(env);
    nc = await connect({ servers: natsUrl, name: "switchyard-bench" });
    const swept = await sweepKilledRuns(nc, redisUrl);
    if (swept.length > 0) say(`removed the leftovers of killed runs: ${swept.join(", ")}`);
    // The PSPs are other parties' machines: both flows' run in a process of their own (outside.ts).
    if (flows.includes("product") || flows.includes("bare")) outside = await startOutside(config.sandbox);
    // Both run for the whole time, so each flow's phases carry the other's idle consumers alike.
    if (flows.includes("product")) {
      say(`starting the product (prefix ${prefix}, ${config.partitions} partitions)`);
      if (opts.tracing) tracing = await startBenchTracing();
      productRun = await startProduct({
        env,
        dataDir,
        apiKey,
        embedded: opts.embedded,
        endpoint: opts.endpoint,
        ...(!opts.embedded && outside && { sandboxUrl: outside.sandboxUrl }),
      });
      platform = productRun.platform;
      say(productRun.setup);
    }
    if (flows.includes("bare")) {
      say(`starting the bare flow (${config.partitions} partitions)`);
      bare = await startBare({ natsUrl, prefix, partitions: config.partitions, pspUrl: outside!.bareUrl });
    }
    if (procfilePrefix !== undefined) {
      say(`starting the Procfile roles as child processes (prefix ${procfilePrefix})`);
      children = await startProcfile({
        prefix: procfilePrefix,
        natsUrl,
        redisUrl,
        partitions: config.partitions,
        apiKey,
        dataDir,
        log: say,
        signal: abort.signal,
      });
      say(
        `procfile pids: ${Object.entries(children.pids)
          .map(([r, pid]) => `${r} ${pid}`)
          .join(", ")}`,
      );
    }
    // The open loop needs a socket per outstanding request, or requests would queue in the agent.
    const sockets = opts.openLoopRate === undefined ? opts.concurrency : opts.maxOutstanding;
    const clientOf: Partial<Record<Flow, Op>> = {};
    for (const [flow, url] of [
      ["bare", bare?.url],
      ["product", platform?.url],
      ["procfile", children?.url],
    ] as const) {
      if (url === undefined) continue;
      const client = paymentClient(url, apiKey, sockets);
      clients.push(client);
      clientOf[flow] = client.op;
    }
    // /readyz answered, but the child worker may not consume yet: wait for one payment's 201.
    if (children) await firstPayment(clientOf.procfile!);

    // What the process burns with no load (timers, idle consumers' heartbeats): every phase's CPU per
    // payment includes it, which matters at low open-loop rates and with one client.
    const idleCpuMsPerS = await idleCpu(1000);
    if (opts.workers)
      return await workersMode({
        ...opts,
        counts: opts.workers,
        partitions: config.partitions,
        natsUrl,
        redisUrl,
        nc,
        apiKey,
        dataDir,
        product: clientOf.product!,
        signal: abort.signal,
        say,
      });
    if (opts.phases > 0) {
      const errors = await phaseMode({
        ...opts,
        dir: dataDir,
        product: clientOf.product!,
        bare: clientOf.bare,
        platform: platform!,
        setup: productRun!.setup,
        receiver: productRun!.receiver,
        signal: abort.signal,
        say,
      });
      if (abort.signal.aborted) return 130;
      if (errors > 0) say(`${errors} requests failed: the figures above are not trustworthy`);
      return errors > 0 ? 1 : 0;
    }
    const C = opts.concurrency;
    const rate = opts.openLoopRate;
    const load = (op: Op, seconds: number) =>
      rate === undefined
        ? closedLoop(C, seconds * 1000, op, abort.signal)
        : openLoop(rate, seconds * 1000, op, opts.maxOutstanding, abort.signal);
    const measured: Record<Flow, RunResult[]> = { bare: [], product: [], procfile: [] };
    const acceptedBy: Record<Flow, number> = { bare: 0, product: 0, procfile: 0 };
    const procfileRounds: ProcfileRound[] = [];
    let inside = noTotals();
    let after: AfterLoad | undefined;
    say(
      `${opts.rounds} round(s) of ${flows.join(" then ")}: ${opts.warmupS} s warm-up (first ${Math.max(opts.warmupS, FIRST_WARMUP_S)} s) + ${opts.durationS} s each, ` +
        (rate === undefined ? `${C} clients` : `open loop at ${rate}/s`),
    );
    for (let round = 1; round <= opts.rounds && !abort.signal.aborted; round++) {
      for (const flow of flows) {
        const op = clientOf[flow]!;
        // Each flow's first phase warms up longer: its code is still being optimized (round 1 of the
        // product was consistently slower than round 2 with a 2 s warm-up).
        const warm = await load(op, round === 1 ? Math.max(opts.warmupS, FIRST_WARMUP_S) : opts.warmupS);
        const before = platform && flow === "product" ? await platformTotals(platform.metrics) : undefined;
        const childrenBefore = flow === "procfile" ? children?.cpuMs() : undefined;
        const followers = flow === "product" ? await followersWindow(platform) : undefined;
        const pspBefore = outside?.cpuMs();
        const run = await load(op, opts.durationS);
        const pspAfter = outside?.cpuMs();
        const endedAt = performance.now();
        await followers?.end(run);
        if (abort.signal.aborted) break; // Ctrl-C reaches the children too: their figures would be cut short
        // After the product's last phase: how far behind its followers are, then its idle CPU.
        if (platform && flow === "product" && round === opts.rounds)
          after = await afterLoad(platform, endedAt, productRun?.receiver);
        if (platform && before) inside = addWindow(inside, before, await platformTotals(platform.metrics));
        measured[flow].push(run);
        acceptedBy[flow] += accepted(warm) + accepted(run);
        let cpuMs = run.cpu.processCpuMs;
        if (flow === "procfile") {
          const childrenAfter = children?.cpuMs();
          // A child gone mid-run would make every figure of this flow wrong: stop, don't report them.
          if (!childrenBefore || !childrenAfter)
            throw new Error("a procfile child process ended during the run");
          const childCpuMs = childCpuDelta(childrenBefore, childrenAfter);
          procfileRounds.push({ run, childCpuMs });
          cpuMs += childSum(childCpuMs);
        }
        say(
          `round ${round} ${flow}: ${run.perSecond.toFixed(1)}/s, p50 ${run.latencyMs.p50.toFixed(1)} ms, ` +
            `cpu ${(cpuMs / run.completed).toFixed(2)} ms/payment` +
            (flow === "procfile"
              ? " (children + this process)"
              : pspShare(pspBefore, pspAfter, run.completed)) +
            followersShare(run, measured.bare.at(-1)),
        );
      }
    }
    if (abort.signal.aborted) return 130;

    // Facts from the streams themselves: event messages per accepted payment, commands left over.
    const jsm = await jetstreamManager(nc);
    const topo = topology(prefix, config.partitions);
    const flowInput = async (flow: Flow, streams: { commands: string; events: string }) =>
      facts(jsm, measured[flow], acceptedBy[flow], streams);
    const product = platform
      ? await flowInput("product", { commands: topo.commandStream, events: topo.eventStream })
      : undefined;
    const bareInput = bare ? await flowInput("bare", bare.streams) : undefined;

    // The older baseline, cheap enough to keep in the default run; not in a single-flow run (profiling).
    const payload = sampleCommand(cardKey);
    let baseline: RunResult | undefined;
    if (!opts.only && rate === undefined) {
      const raw = await rawPublisher(nc, prefix, payload);
      say(`JetStream baseline: 1 s warm-up, then ${opts.durationS} s with ${C} publishers`);
      await closedLoop(C, Math.min(1, opts.warmupS) * 1000, raw, abort.signal);
      baseline = await closedLoop(C, opts.durationS * 1000, raw, abort.signal);
      if (abort.signal.aborted) return 130;
    }

    const errors = report({
      opts,
      partitions: config.partitions,
      routing,
      idleCpuMsPerS,
      productSetup: productRun?.setup,
      afterLoad: after,
      bare: bareInput,
      product,
      procfile:
        children && procfilePrefix !== undefined
          ? { rounds: procfileRounds, prefix: procfilePrefix }
          : undefined,
      inside: platform ? meansMs(noTotals(), inside) : undefined,
      baseline,
      payloadBytes: payload.byteLength,
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? "unknown",
        os: `${osPlatform()} ${release()}`,
        node: process.version,
        natsServer: nc.info?.version ?? "unknown",
      },
    });
    if (errors > 0) say(`${errors} requests or publishes failed: the figures above are not trustworthy`);
    return errors > 0 ? 1 : 0;
  } finally {
    const client = { close: () => clients.forEach((c) => c.close()) };
    const problems = await cleanUp({
      prefix,
      redisUrl,
      dataDir,
      nc,
      platform: productRun,
      bare,
      procfile: procfilePrefix === undefined ? undefined : { prefix: procfilePrefix, children },
      client,
      services,
    });
    await outside?.stop();
    if (tracing) {
      const { requests, bytes } = tracing.exported();
      say(`tracing: ${requests} OTLP export requests, ${(bytes / 1e6).toFixed(1)} MB of spans`);
      await tracing.stop();
    }
    if (problems.length > 0) {
      for (const p of problems) say(`cleanup failed: ${p}`);
      process.exitCode = 1;
    }
  }
}

main().then(
  (code) => process.exit(process.exitCode ?? code),
  (err: unknown) => {
    // Known causes are one clear line; anything else gets its stack.
    const known = [UsageError, ConfigError, MissingServiceError, ServiceStartError].some(
      (E) => err instanceof E,
    );
    say(
      known && err instanceof Error
        ? err.message
        : `failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
    process.exit(err instanceof UsageError || err instanceof ConfigError ? 2 : 1);
  },
);
