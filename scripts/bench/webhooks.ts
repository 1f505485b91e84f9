// The webhooks section of `npm run bench` (issue 10): webhooks must not become the bottleneck. One
// platform (sandbox, worker with its webhook dispatcher and sender, gateway) under one prefix, the
// payment bench's closed loop run in alternating phases: no endpoint registered, then one endpoint
// of the merchant pointing at a local receiver (a fresh endpoint per phase, removed after it drained).
// Printed: payments/s of both (medians over rounds) and their ratio (it must stay within 15 %),
// deliveries/s during the measured window, and the delivery lag p50/p99 — the event's append to
// PAY_EVT (the stream's own timestamp, kept in webhook_events.appended_at) to the receiver's arrival.
// The receiver verifies every 50th delivery with the official standardwebhooks package.
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import postgres from "postgres";
import { Webhook } from "standardwebhooks";
import { sealText } from "../../config/card-seal.ts";
import { loadConfig } from "../../config/env.ts";
import { createLogger } from "../../config/log.ts";
import { topologyOf } from "../../streams/infra.ts";
import { startPlatform, type Platform } from "../platform.ts";
import { benchPrefix, cleanUp, makeTempDir } from "./cleanup.ts";
import { closedLoop, summarize, type Latency } from "./load.ts";
import { paymentClient } from "./probes.ts";
import { runSection, stopIf } from "./section.ts";

export type WebhooksBenchOptions = {
  concurrency: number;
  durationS: number;
  warmupS: number;
  rounds: number;
  say: (line: string) => void;
};

type Phase = { perSecond: number; completed: number; errors: number };
type WithEndpoint = Phase & { deliveriesPerSecond: number; delivered: number; drainMs: number; lag: Latency };

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.floor((s.length - 1) / 2)]! + s[Math.ceil((s.length - 1) / 2)]!) / 2;
};

export async function webhooksSection(o: WebhooksBenchOptions): Promise<number> {
  const say = o.say;
  return runSection(say, async ({ natsUrl, dbUrl, signal }) => {
    const prefix = benchPrefix();
    const apiKey = `sk_bench_${randomBytes(16).toString("hex")}`;
    const cardKey = randomBytes(32);
    const dataDir = makeTempDir();
    const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
    const config = loadConfig({
      LOG_LEVEL: "info",
      ...process.env,
      NATS_URL: natsUrl,
      REDIS_URL: redisUrl,
      DATABASE_URL: dbUrl,
      PORT: "0",
      SANDBOX_PORT: "0",
      SWITCHYARD_PREFIX: prefix,
      SWITCHYARD_BOOTSTRAP_KEYS: `m_bench:${apiKey}`,
      SWITCHYARD_CARD_KEY: cardKey.toString("hex"),
      SWITCHYARD_DATA_DIR: dataDir,
      SANDBOX_PERSIST: "false",
      SWITCHYARD_WEBHOOKS: "on",
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
      const logFile = pino.destination({ dest: join(dataDir, "platform.log"), sync: false });
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
        const inWindow = receiver.arrivals.filter((x) => x.at <= windowEnd).length;
        // Drain: the dispatcher has stored every frame of the phase, and every delivery is sent.
        const drainStart = Date.now();
        const lastSeq = (await jsm.streams.info(topo.eventStream)).state.last_seq;
        for (;;) {
          stopIf(signal);
          const floor = (await jsm.consumers.info(topo.eventStream, topo.webhookConsumer)).ack_floor
            .stream_seq;
          const [row] = await sql<{ n: number }[]>`
            select count(*)::int as n from webhook_deliveries where endpoint_id = ${id} and status = 'pending'`;
          if (floor >= lastSeq && (row?.n ?? 0) === 0) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        const drainMs = Date.now() - drainStart;
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
          deliveriesPerSecond: inWindow / ((windowEnd - t0) / 1000),
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
      const ratio = pWith / pNo;
      const lines = [
        "",
        `Webhooks (${o.rounds} round(s), ${o.concurrency} clients, ${o.durationS} s phases; medians)`,
        `  payments/s, no endpoint:      ${pNo.toFixed(1)}`,
        `  payments/s, one endpoint:     ${pWith.toFixed(1)}   ratio ${ratio.toFixed(3)} (${ratio >= 0.85 ? "within" : "NOT within"} 15 %)`,
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

type Receiver = {
  url: string;
  arrivals: Array<{ id: string; at: number }>;
  reset(secret: string): void;
  failures(): number;
  close(): Promise<void>;
};

/** A merchant's endpoint: answers 200 at once, notes each webhook-id and when it arrived. */
async function startReceiver(): Promise<Receiver> {
  let arrivals: Array<{ id: string; at: number }> = [];
  let webhook: Webhook | undefined;
  let failed = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const at = Date.now();
      const id = String(req.headers["webhook-id"] ?? "");
      if (arrivals.length % 50 === 0)
        try {
          webhook?.verify(Buffer.concat(chunks).toString("utf8"), {
            "webhook-id": id,
            "webhook-timestamp": String(req.headers["webhook-timestamp"] ?? ""),
            "webhook-signature": String(req.headers["webhook-signature"] ?? ""),
          });
        } catch {
          failed += 1;
        }
      arrivals.push({ id, at });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("receiver has no port");
  return {
    url: `http://127.0.0.1:${address.port}/hooks`,
    get arrivals() {
      return arrivals;
    },
    reset(secret) {
      arrivals = [];
      webhook = new Webhook(secret);
    },
    failures: () => failed,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
