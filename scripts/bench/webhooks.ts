// The webhooks section of `npm run bench` (issue 10): webhooks must not become the bottleneck. One
// platform (sandbox, worker with its webhook dispatcher and sender, gateway) under one prefix, the
// payment bench's closed loop run in alternating phases: no endpoint registered, then one endpoint
// of the merchant pointing at a local receiver (a fresh endpoint per phase, removed after it drained).
// Printed: payments/s of both (medians over rounds) and the median of each round's ratio (it must
// stay within 15 %), deliveries/s during the measured window, and the delivery lag p50/p99 — the
// event's append to PAY_EVT (the stream's own timestamp, kept in webhook_events.appended_at) to the receiver's arrival.
// The receiver (a process of its own) verifies every 50th delivery with the official standardwebhooks package.
import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import postgres from "postgres";
import { sealText } from "../../config/card-seal.ts";
import { DEFAULT_REDIS_URL, loadConfig } from "../../config/env.ts";
import { createLogger } from "../../config/log.ts";
import { bufferedDestination } from "../../config/log-format.ts";
import { topologyOf } from "../../streams/infra.ts";
import { startPlatform, type Platform } from "../platform.ts";
import { benchPrefix, cleanUp, makeTempDir } from "./cleanup.ts";
import { closedLoop, summarize, type Latency } from "./load.ts";
import { paymentClient } from "./probes.ts";
import { runSection, stopIf, type ClosedLoopSectionOptions } from "./section.ts";

type Phase = { perSecond: number; completed: number; errors: number };
type WithEndpoint = Phase & { deliveriesPerSecond: number; delivered: number; drainMs: number; lag: Latency };

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.floor((s.length - 1) / 2)]! + s[Math.ceil((s.length - 1) / 2)]!) / 2;
};

export async function webhooksSection(o: ClosedLoopSectionOptions): Promise<number> {
  const say = o.say;
  return runSection(say, async ({ natsUrl, dbUrl, signal }) => {
    const prefix = benchPrefix();
    const apiKey = `sk_bench_${randomBytes(16).toString("hex")}`;
    const cardKey = randomBytes(32);
    const dataDir = makeTempDir();
    const redisUrl = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
    const config = loadConfig({
      LOG_LEVEL: "info",
      ...process.env,
      NATS_URL: natsUrl,
      REDIS_URL: redisUrl,
      DATABASE_URL: dbUrl,
      PORT: "0",
      GRPC_PORT: "0",
      SANDBOX_PORT: "0",
      SWITCHYARD_PREFIX: prefix,
      SWITCHYARD_BOOTSTRAP_KEYS: `m_bench:${apiKey}`,
      SWITCHYARD_CARD_KEY: cardKey.toString("hex"),
      SWITCHYARD_DATA_DIR: dataDir,
      SANDBOX_PERSIST: "false",
      // The section measures the dispatcher and sender: on whatever the environment says for the
      // product flow (with the projections off the drain below waited for a position never moving):
      // in the event loop as npm start runs them, or on their own thread when the environment says so.
      SWITCHYARD_WEBHOOKS: "on",
      SWITCHYARD_PROJECTIONS: process.env.SWITCHYARD_PROJECTIONS === "thread" ? "thread" : "on",
      // The receiver is local: http to loopback, as in development.
      SWITCHYARD_WEBHOOK_ALLOW_HTTP_LOOPBACK: "true",
    });
    const receiver = await startReceiver();
    const nc = await connect({ servers: natsUrl, name: "switchyard-bench-webhooks" });
    let platform: Platform | undefined;
    let client: ReturnType<typeof paymentClient> | undefined;
    const sql = postgres(dbUrl, {
      max: 2,
      onnotice: () => undefined,
      connection: { search_path: `sy_${prefix.toLowerCase()}` },
    });
    try {
      say(`webhooks: starting the product (prefix ${prefix})`);
      const logFile = bufferedDestination(join(dataDir, "platform.log"));
      platform = await startPlatform(config, {
        roles: new Set(["sandbox", "worker", "gateway"]),
        log: createLogger(config.logLevel, { service: "switchyard" }, logFile),
      });
      client = paymentClient(platform.url ?? "", apiKey, o.concurrency);
      const jsm = await jetstreamManager(nc);
      const topo = topologyOf(config);
      const op = client.op;
      const without: Phase[] = [];
      const withEndpoint: WithEndpoint[] = [];
      const phase = async (): Promise<Phase> => {
        await closedLoop(o.concurrency, o.warmupS * 1000, op, signal);
        const r = await closedLoop(o.concurrency, o.durationS * 1000, op, signal);
        const errors = Object.entries(r.outcomes)
          .filter(([k]) => !k.startsWith("201"))
          .reduce((n, [, v]) => n + v, 0);
        return { perSecond: r.perSecond, completed: r.completed, errors };
      };
      for (let round = 1; round <= o.rounds; round++) {
        stopIf(signal);
        const a = await phase();
        without.push(a);
        say(`webhooks round ${round} no endpoint: ${a.perSecond.toFixed(1)} payments/s`);
        stopIf(signal);

        // A fresh endpoint: only this phase's events go to it.
        const secret = `whsec_${randomBytes(24).toString("base64")}`;
        const id = `we_bench${round}_${randomBytes(4).toString("hex")}`;
        await sql`insert into webhook_endpoints (id, merchant_id, url, enabled_events, secret_sealed, created_at, updated_at)
          values (${id}, 'm_bench', ${receiver.url}, ${["*"]}, ${sealText(cardKey, secret, id)}, now(), now())`;
        receiver.reset(secret);
        const t0 = Date.now();
        const b = await phase();
        const windowEnd = Date.now();
        // Drain: the dispatcher has stored every frame of the phase, and every delivery is sent.
        const drainStart = Date.now();
        const lastSeq = (await jsm.streams.info(topo.eventStream)).state.last_seq;
        for (;;) {
          stopIf(signal);
          const [position] = await sql<{ last_seq: number }[]>`
            select last_seq from projection_offsets where name = 'webhooks'`;
          const floor = position?.last_seq ?? 0;
          const [row] = await sql<{ n: number }[]>`
            select count(*)::int as n from webhook_deliveries where endpoint_id = ${id} and status = 'pending'`;
          if (floor >= lastSeq && (row?.n ?? 0) === 0) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        const drainMs = Date.now() - drainStart;
        await receiver.flush();
        const appended = new Map(
          (
            await sql<{ id: string; appended_at: Date }[]>`
              select e.id, e.appended_at from webhook_events e join webhook_deliveries d on d.event_id = e.id
              where d.endpoint_id = ${id}`
          ).map((r) => [r.id, r.appended_at.getTime()]),
        );
        const lags = receiver.arrivals.flatMap((x) => {
          const t = appended.get(x.id);
          return t === undefined ? [] : [x.at - t];
        });
        await sql`update webhook_endpoints set disabled = true where id = ${id}`;
        if (receiver.failures() > 0) throw new Error(`${receiver.failures()} deliveries did not verify`);
        const w: WithEndpoint = {
          ...b,
          delivered: receiver.arrivals.length,
          deliveriesPerSecond:
            receiver.arrivals.filter((x) => x.at <= windowEnd).length / ((windowEnd - t0) / 1000),
          drainMs,
          lag: summarize(lags),
        };
        withEndpoint.push(w);
        say(
          `webhooks round ${round} one endpoint: ${b.perSecond.toFixed(1)} payments/s, ` +
            `${w.delivered} delivered, lag p50 ${w.lag.p50.toFixed(0)} ms p99 ${w.lag.p99.toFixed(0)} ms`,
        );
      }
      const pNo = median(without.map((p) => p.perSecond));
      const pWith = median(withEndpoint.map((p) => p.perSecond));
      // Each round's two phases run back to back: their ratio is paired against the machine's drift
      // (the load of a shared machine moves by more than 15 % between rounds), so the verdict is the
      // median of the per-round ratios; the ratio of the medians is printed beside it.
      const perRound = withEndpoint.map((w, i) => w.perSecond / (without[i]?.perSecond ?? NaN));
      const ratio = median(perRound);
      const lines = [
        "",
        `Webhooks (${o.rounds} round(s), ${o.concurrency} clients, ${o.durationS} s phases; medians)`,
        `  payments/s, no endpoint:      ${pNo.toFixed(1)}`,
        `  payments/s, one endpoint:     ${pWith.toFixed(1)}   (ratio of the medians ${(pWith / pNo).toFixed(3)})`,
        `  per-round ratios:             ${perRound.map((r) => r.toFixed(3)).join(", ")}`,
        `  median per-round ratio:       ${ratio.toFixed(3)} (${ratio >= 0.85 ? "within" : "NOT within"} 15 %)`,
        `  deliveries/s (in the window): ${median(withEndpoint.map((w) => w.deliveriesPerSecond)).toFixed(1)}`,
        `  delivery lag p50 / p99:       ${median(withEndpoint.map((w) => w.lag.p50)).toFixed(0)} ms / ${median(withEndpoint.map((w) => w.lag.p99)).toFixed(0)} ms (append → receiver)`,
        `  drain after the load stopped: ${median(withEndpoint.map((w) => w.drainMs)).toFixed(0)} ms`,
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
      const result = {
        section: "webhooks",
        paymentsPerSecondNoEndpoint: pNo,
        paymentsPerSecondOneEndpoint: pWith,
        ratio,
        deliveriesPerSecond: median(withEndpoint.map((w) => w.deliveriesPerSecond)),
        lagMs: {
          p50: median(withEndpoint.map((w) => w.lag.p50)),
          p99: median(withEndpoint.map((w) => w.lag.p99)),
        },
      };
      process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
      const errors = [...without, ...withEndpoint].reduce((n, p) => n + p.errors, 0);
      if (errors > 0) throw new Error(`${errors} payment requests did not answer 201`);
    } finally {
      client?.close();
      await sql.end({ timeout: 1 }).catch(() => undefined);
      await receiver.close();
      const problems = await cleanUp({
        prefix,
        redisUrl,
        dataDir,
        nc,
        platform,
        client: undefined,
        services: undefined,
      });
      for (const p of problems) say(`cleanup failed: ${p}`);
    }
  });
}

export type Receiver = {
  url: string;
  /** Every arrival of the current generation (empty when started with `record: false`). */
  arrivals: Array<{ id: string; at: number }>;
  /** Deliveries answered 200 since the start, all generations. */
  delivered(): number;
  reset(secret: string): void;
  /** Every arrival so far is in `arrivals` once this resolves. */
  flush(): Promise<void>;
  failures(): number;
  close(): Promise<void>;
};

// The merchant's endpoint, in a process of its own: its HTTP parsing and signature checks are the
// merchant's cost, not the platform's. (It was a worker thread of the bench process until the fourth
// round of 6 December 2026: off the platform's event loop, but its CPU was in the process's
// cpuUsage, billed to the product.) It talks to the bench over the IPC channel.
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const RECEIVER_SOURCE = `
const parentPort = {
  postMessage: (m) => process.send(m),
  on: (event, f) => process.on(event, f),
  close: () => process.disconnect(),
};
process.on("disconnect", () => process.exit(0));
const http = require("node:http");
const { Webhook } = require("standardwebhooks");
let webhook, gen = 0, n = 0, failed = 0, pending = [];
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const at = Date.now();
    const h = req.headers;
    const id = String(h["webhook-id"] || "");
    if (webhook && n++ % 50 === 0)
      try {
        webhook.verify(Buffer.concat(chunks).toString("utf8"), {
          "webhook-id": id,
          "webhook-timestamp": String(h["webhook-timestamp"] || ""),
          "webhook-signature": String(h["webhook-signature"] || ""),
        });
      } catch { failed++; }
    pending.push([id, at]);
    res.writeHead(200).end();
  });
});
const send = (extra) => { parentPort.postMessage({ gen, failed, arrivals: pending, ...extra }); pending = []; };
setInterval(() => { if (pending.length > 0) send({}); }, 50).unref();
parentPort.on("message", (m) => {
  if (m.secret !== undefined) { send({}); gen = m.gen; webhook = new Webhook(m.secret); n = 0; }
  if (m.flush) send({ flushed: m.flush });
  if (m.close) server.close(() => parentPort.close());
});
server.listen(0, "127.0.0.1", () => parentPort.postMessage({ port: server.address().port }));
`;

/**
 * The receiver, answering 200 to every delivery. `record: false` (the product flow's endpoint, which
 * runs for 100,000s of payments in phase mode) only counts arrivals: a list growing in this process
 * would be counted in the RSS the phase mode reports as the platform's.
 */
export async function startReceiver(o: { record: boolean } = { record: true }): Promise<Receiver> {
  const worker = spawn(process.execPath, ["-e", RECEIVER_SOURCE], {
    cwd: ROOT,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const gone = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  const post = (m: object) => {
    if (worker.connected) worker.send(m);
  };
  let arrivals: Array<{ id: string; at: number }> = [];
  let delivered = 0;
  let gen = 0;
  let failed = 0;
  let flushes = 0;
  const flushed = new Map<number, () => void>();
  type Msg = {
    port?: number;
    gen?: number;
    failed?: number;
    arrivals?: Array<[string, number]>;
    flushed?: number;
  };
  const port = await new Promise<number>((resolve, reject) => {
    worker.once("error", reject);
    void gone.then(() => reject(new Error("the webhook receiver's process ended during start-up")));
    worker.on("message", (m: Msg) => {
      if (m.port !== undefined) resolve(m.port);
      if (m.failed !== undefined) failed = m.failed;
      delivered += m.arrivals?.length ?? 0;
      if (o.record && m.gen === gen && m.arrivals)
        for (const [id, at] of m.arrivals) arrivals.push({ id, at });
      if (m.flushed !== undefined) flushed.get(m.flushed)?.();
    });
  });
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    get arrivals() {
      return arrivals;
    },
    reset(secret) {
      gen += 1;
      arrivals = [];
      post({ secret, gen });
    },
    flush() {
      const n = ++flushes;
      return new Promise<void>((resolve) => {
        flushed.set(n, resolve);
        post({ flush: n });
      });
    },
    delivered: () => delivered,
    failures: () => failed,
    async close() {
      post({ close: true });
      const timer = setTimeout(() => worker.kill("SIGKILL"), 5_000);
      await gone;
      clearTimeout(timer);
    },
  };
}
