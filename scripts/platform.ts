// The composition root: builds any set of roles (gateway, worker, sandbox) from a Config, in one
// process. `npm start` runs all three; the Procfile runs one role per process; tests and the bench
// run all three with a unique prefix. Stopping reverses start-up: stop taking work, finish what is
// in flight, flush, disconnect.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { hostname } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import type { FastifyInstance } from "fastify";
import { toView } from "../actors/payment/view.ts";
import {
  POLICY_KINDS,
  type PolicyKind,
  type PolicyOf,
  type PspCapabilities,
} from "../actors/policy/schemas.ts";
import { validatePolicy } from "../actors/policy/validate.ts";
import { capabilitiesOf, createConnectors } from "../actors/psp/registry.ts";
import { OperatorAuth } from "../gateway/operator-auth.ts";
import { OpsBoard } from "../streams/ops-board.ts";
import { PolicyStore } from "../streams/policy-store.ts";
import { startWorker, type Worker } from "../actors/worker.ts";
import type { Config } from "../config/env.ts";
import { loadOrCreateCardKey, loadOrCreateDemoMerchant } from "../config/secrets.ts";
import { buildGateway, type GatewayDeps } from "../gateway/app.ts";
import { MerchantAuth, hashKey, type MerchantKey } from "../gateway/auth.ts";
import { CommandBus, NatsUnavailableError } from "../streams/command-bus.ts";
import { connectNats, isConnected } from "../streams/connection.ts";
import { EventStore } from "../streams/event-store.ts";
import { createLogger, type Logger } from "../streams/log.ts";
import { createMetrics, type Metrics } from "../streams/metrics.ts";
import { SnapshotStore } from "../streams/snapshots.ts";
import { ensureTopology, snapshotKey, topology } from "../streams/topology.ts";
import { startSandbox, type Sandbox } from "./sandbox-psp.ts";

export type Role = "gateway" | "worker" | "sandbox";

export type Platform = {
  config: Config;
  metrics: Metrics;
  log: Logger;
  /** Base URL of the gateway, when it runs here. */
  url?: string;
  sandbox?: Sandbox;
  worker?: Worker;
  /** Where a worker without a gateway serves /metrics. */
  metricsUrl?: string;
  /** The demo merchant's key, only on the start that created it. */
  demoKey?: string;
  stop(): Promise<void>;
};

export type PlatformOptions = {
  roles: ReadonlySet<Role>;
  log?: Logger;
};

export async function startPlatform(config: Config, opts: PlatformOptions): Promise<Platform> {
  const log = opts.log ?? createLogger(config.logLevel, { service: "switchyard" });
  const metrics = createMetrics({ defaultMetrics: true });
  const stops: Array<() => Promise<void>> = [];
  const platform: Platform = {
    config,
    metrics,
    log,
    async stop() {
      for (const stop of stops.reverse()) {
        await stop().catch((err: unknown) => log.error({ err }, "error while stopping"));
      }
      stops.length = 0;
    },
  };
  try {
    if (opts.roles.has("sandbox")) {
      const sandbox = await startSandbox({
        port: config.sandbox.port,
        slowCardDelayMs: config.sandbox.slowCardDelayMs,
        logger: log.child({ role: "sandbox" }),
        ...(config.sandbox.persist && { stateFile: join(config.dataDir, "sandbox-psp.json") }),
      });
      platform.sandbox = sandbox;
      stops.push(() => sandbox.close());
      log.info({ url: sandbox.url }, "PSP sandbox listening");
    }
    if (!opts.roles.has("gateway") && !opts.roles.has("worker")) return platform;

    const topo = topology(config.prefix, config.partitions, {
      commandAckWaitMs: config.commandAckWaitMs,
      replicas: config.streamReplicas,
    });
    const nc = await connectNats(config.nats.url, `switchyard-${[...opts.roles].join("+")}`, log);
    stops.push(async () => {
      await nc.drain().catch(() => nc.close());
    });
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    await ensureTopology(jsm, topo);
    // Redis is an accelerator: while it is away, commands must fail at once (and the actor replay
    // from JetStream), never queue up behind a reconnect and hold a payment.
    const redis = new Redis(config.redis.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 500,
      connectTimeout: 2_000,
    });
    redis.on("error", (err) => log.warn({ err: err.message }, "redis connection error"));
    stops.push(async () => {
      await redis.quit().catch(() => redis.disconnect());
    });
    const cardKey = config.cardKey ?? loadOrCreateCardKey(config.dataDir);

    // Policies: one store per process, shared by its gateway and worker, so an operator's change
    // through this gateway is what this worker routes the next payment with.
    const sandboxUrl = platform.sandbox?.url ?? config.sandbox.url;
    const connectors = createConnectors({ sandboxUrl, timeoutMs: config.psp.timeoutMs });
    const capabilities = capabilitiesOf(connectors);
    const store = { replicas: config.streamReplicas, log };
    const policyStore = await new PolicyStore(js, config.prefix, store).ensure();
    const opsBoard = await new OpsBoard(js, config.prefix, store).ensure();
    await policyStore.seedDefaults(loadDefaultPolicies(capabilities));

    if (opts.roles.has("worker")) {
      const policies = await policyStore.watch();
      stops.push(() => Promise.resolve(policies.close()));
      const worker = await startWorker({
        nc,
        js,
        jsm,
        redis,
        topo,
        connectors,
        capabilities,
        policies,
        opsBoard,
        workerId: `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`,
        cardKey,
        snapshotEvery: config.snapshotEvery,
        passivateAfterMs: config.passivateAfterMs,
        metrics,
        log,
      });
      platform.worker = worker;
      stops.push(() => worker.stop());
      // Without a gateway in this process, the worker's metrics (PSP health, routing) need their own door.
      // A second worker on the same host with the default port still works; it says what to set.
      if (!opts.roles.has("gateway")) {
        const server = await serveMetrics(metrics, config.gateway.host, config.worker.metricsPort).catch(
          (err: unknown) => {
            log.warn(
              { err, port: config.worker.metricsPort },
              "worker metrics not served: port unavailable (set SWITCHYARD_WORKER_METRICS_PORT; 0 = any free port)",
            );
            return undefined;
          },
        );
        if (server) {
          platform.metricsUrl = server.url;
          stops.push(server.close);
          log.info({ url: server.url }, "worker metrics listening");
        }
      }
    }

    if (opts.roles.has("gateway")) {
      const ops = {
        store: policyStore,
        board: opsBoard,
        capabilities,
        auth: OperatorAuth.fromKeys(config.operatorKeys),
      };
      const { app, bus, demoKey } = await gateway(config, {
        nc,
        jsm,
        redis,
        cardKey,
        metrics,
        log,
        topo,
        ops,
        capabilities,
      });
      stops.push(() => bus.close());
      stops.push(() => app.close());
      const address = await app.listen({ port: config.gateway.port, host: config.gateway.host });
      platform.url = address;
      if (demoKey !== undefined) platform.demoKey = demoKey;
      log.info({ url: address }, "gateway listening");
    }
    return platform;
  } catch (err) {
    await platform.stop();
    throw err;
  }
}

async function gateway(
  config: Config,
  d: {
    nc: NatsConnection;
    jsm: JetStreamManager;
    redis: Redis;
    cardKey: Buffer;
    metrics: Metrics;
    log: Logger;
    topo: ReturnType<typeof topology>;
    ops: GatewayDeps["ops"];
    capabilities: GatewayDeps["pspCapabilities"];
  },
): Promise<{ app: FastifyInstance; bus: CommandBus; demoKey?: string }> {
  const log = d.log.child({ role: "gateway" });
  const js = jetstream(d.nc);
  const bus = new CommandBus(d.nc, js, d.topo, log);
  bus.start();
  const snapshots = new SnapshotStore(d.redis, (id) => snapshotKey(d.topo, id), log, d.metrics);
  const store = new EventStore(js, d.jsm, d.topo, snapshots, d.metrics);
  const keys: MerchantKey[] = config.bootstrapKeys.map((k) => ({
    merchantId: k.merchantId,
    keyHash: hashKey(k.key),
  }));
  let demoKey: string | undefined;
  if (keys.length === 0) {
    const demo = loadOrCreateDemoMerchant(config.dataDir);
    keys.push({ merchantId: demo.merchantId, keyHash: demo.keyHash });
    demoKey = demo.createdKey;
  }
  const app = await buildGateway({
    bus,
    payments: {
      async get(paymentId) {
        if (!isConnected(d.nc)) throw new NatsUnavailableError("NATS is not connected");
        const { state } = await store.load(paymentId);
        return state && toView(state);
      },
    },
    auth: new MerchantAuth(keys),
    cardKey: d.cardKey,
    replyWaitMs: config.gateway.replyWaitMs,
    readiness: [
      { name: "nats", check: async () => void (await d.nc.rtt()) },
      { name: "jetstream", check: async () => void (await d.jsm.getAccountInfo()) },
      { name: "redis", check: async () => void (await d.redis.ping()) },
    ],
    metrics: d.metrics,
    log,
    pspCapabilities: d.capabilities,
    ...(d.ops && { ops: d.ops }),
  });
  return { app, bus, ...(demoKey !== undefined && { demoKey }) };
}

/** A bare HTTP server with GET /metrics (Prometheus) and GET /healthz, for a worker on its own. */
async function serveMetrics(
  metrics: Metrics,
  host: string,
  port: number,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/metrics") {
      metrics.registry.metrics().then(
        (body) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
    } else if (req.method === "GET" && path === "/healthz") {
      res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("metrics server has no TCP address");
  return {
    url: `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * The policies of a fresh start, from config/policies/: checked like an upload, so a bad default
 * stops the start with its problems rather than routing payments with it.
 */
export function loadDefaultPolicies(capabilities: ReadonlyMap<string, PspCapabilities>): {
  [K in PolicyKind]: PolicyOf<K>;
} {
  const out: Partial<Record<PolicyKind, unknown>> = {};
  for (const kind of POLICY_KINDS) {
    const file = new URL(`../config/policies/${kind}.json`, import.meta.url);
    const r = validatePolicy(JSON.parse(readFileSync(file, "utf8")), { capabilities });
    if (!r.ok)
      throw new Error(
        `config/policies/${kind}.json is invalid: ${r.problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`,
      );
    if (r.policy.kind !== kind) throw new Error(`config/policies/${kind}.json has kind ${r.policy.kind}`);
    out[kind] = r.policy;
  }
  return out as { [K in PolicyKind]: PolicyOf<K> };
}
