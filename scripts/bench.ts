// `npm run bench`: how many payments per second this machine turns through the whole platform, next
// to how many raw JetStream publishes it does with the same client — one run, one machine, so the
// ratio means something even where the absolute numbers do not. First, before any server or the
// platform runs (their load would disturb it), it times the routing decision alone on a 200-rule
// policy (scripts/bench/routing.ts). Then it starts (or reuses) NATS and Redis, runs sandbox +
// worker + gateway in this process under a unique prefix, drives C closed-loop HTTP clients, then C
// closed-loop publishers, reads the platform's own histograms to say where the time went, prints a
// report and one `BENCH_RESULT {json}` line, and removes everything it created. Options:
// --concurrency N (BENCH_CONCURRENCY, default 32), --duration S (BENCH_DURATION, default 15),
// --warmup S (BENCH_WARMUP, default 2). Exit 0 when it ran and cleaned up; 1 when it failed, or
// when any request or publish errored (errors are fast and would inflate the rate). 202s (the
// platform missing its reply wait) are a result, flagged loudly, not a failure.
import { randomBytes } from "node:crypto";
import { cpus, platform as osPlatform, release } from "node:os";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ConfigError, loadConfig, type Config } from "../config/env.ts";
import { topology } from "../streams/topology.ts";
import { benchPrefix, cleanUp, makeTempDir, sweepKilledRuns } from "./bench/cleanup.ts";
import { closedLoop, type RunResult } from "./bench/load.ts";
import { meansMs, paymentClient, platformTotals, rawPublisher, sampleCommand } from "./bench/probes.ts";
import { report, type BenchOptions } from "./bench/report.ts";
import { benchRouting } from "./bench/routing.ts";
import {
  ensureServices,
  MissingServiceError,
  ServiceStartError,
  type LocalServices,
} from "./local-services.ts";
import { startPlatform, type Platform } from "./platform.ts";

function option(name: string, envVar: string, fallback: number, min: number, max: number): number {
  const argv = process.argv.slice(2);
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  const raw = i < 0 ? process.env[envVar] : (argv[i]?.split("=")[1] ?? argv[i + 1]);
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new UsageError(`--${name} (${envVar}) must be a number ${min}-${max}, got ${JSON.stringify(raw)}`);
  return n;
}

class UsageError extends Error {}

const say = (line: string) => process.stderr.write(`bench: ${line}\n`);

async function main(): Promise<number> {
  const opts: BenchOptions = {
    concurrency: Math.round(option("concurrency", "BENCH_CONCURRENCY", 32, 1, 4096)),
    durationS: option("duration", "BENCH_DURATION", 15, 1, 3600),
    warmupS: option("warmup", "BENCH_WARMUP", 2, 0, 600),
  };
  const natsUrl = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
  const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  // Pure CPU, so it goes first: no server started here and no platform shares the machine yet.
  say("routing decision alone: 200-rule policy");
  const routing = await benchRouting({ rules: 200 });
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
  let client: ReturnType<typeof paymentClient> | undefined;
  try {
    dataDir = makeTempDir();
    // The caller's environment may tune the platform (partitions, reply wait, log level); the
    // bench owns what keeps the run apart: ports, prefix, keys and data dir.
    const config: Config = loadConfig({
      LOG_LEVEL: "warn",
      ...process.env,
      NATS_URL: natsUrl,
      REDIS_URL: redisUrl,
      PORT: "0",
      SANDBOX_PORT: "0",
      SWITCHYARD_PREFIX: prefix,
      SWITCHYARD_BOOTSTRAP_KEYS: `m_bench:${apiKey}`,
      SWITCHYARD_CARD_KEY: cardKey.toString("hex"),
      SWITCHYARD_DATA_DIR: dataDir,
      SANDBOX_PERSIST: "false", // a PSP's own storage is not what this measures
    });
    nc = await connect({ servers: natsUrl, name: "switchyard-bench" });
    const swept = await sweepKilledRuns(nc, redisUrl);
    if (swept.length > 0) say(`removed the leftovers of killed runs: ${swept.join(", ")}`);
    say(`starting the platform (prefix ${prefix}, ${config.partitions} partitions)`);
    platform = await startPlatform(config, { roles: new Set(["sandbox", "worker", "gateway"]) });
    client = paymentClient(platform.url ?? "", apiKey, opts.concurrency);
    const C = opts.concurrency;

    say(`payments: ${opts.warmupS} s warm-up, then ${opts.durationS} s with ${C} clients`);
    const warm = await closedLoop(C, opts.warmupS * 1000, client.op, abort.signal);
    const before = await platformTotals(platform.metrics);
    const payments = await closedLoop(C, opts.durationS * 1000, client.op, abort.signal);
    const inside = meansMs(before, await platformTotals(platform.metrics));
    if (abort.signal.aborted) return 130;

    // Facts from the streams themselves: event messages per created payment, commands left over.
    const jsm = await jetstreamManager(nc);
    const topo = topology(prefix, config.partitions);
    const evt = await jsm.streams.info(topo.eventStream);
    const cmd = await jsm.streams.info(topo.commandStream);
    const created = accepted(warm) + accepted(payments);

    const payload = sampleCommand(cardKey);
    const raw = await rawPublisher(nc, prefix, payload);
    say(`JetStream baseline: 1 s warm-up, then ${opts.durationS} s with ${C} publishers`);
    await closedLoop(C, Math.min(1, opts.warmupS) * 1000, raw, abort.signal);
    const baseline = await closedLoop(C, opts.durationS * 1000, raw, abort.signal);
    if (abort.signal.aborted) return 130;

    const errors = report({
      opts,
      partitions: config.partitions,
      routing,
      payments,
      baseline,
      payloadBytes: payload.byteLength,
      inside,
      eventMessagesPerPayment: created > 0 ? evt.state.messages / created : NaN,
      commandsLeft: cmd.state.messages,
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
    const problems = await cleanUp({ prefix, redisUrl, dataDir, nc, platform, client, services });
    if (problems.length > 0) {
      for (const p of problems) say(`cleanup failed: ${p}`);
      process.exitCode = 1;
    }
  }
}

const accepted = (r: RunResult) =>
  Object.entries(r.outcomes)
    .filter(([k]) => k.startsWith("201") || k.startsWith("202"))
    .reduce((n, [, v]) => n + v, 0);

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
