// The projections, composed: everything that follows the streams after the fact rather than handling
// a payment — the PostgreSQL read models and settlement followers, the settler, the settlement
// puller, the challenge expiry and the missing-line sweep (actors/readmodels.ts), and the webhook
// dispatcher and sender (actors/webhooks). The worker runs them in its process by default
// (SWITCHYARD_PROJECTIONS=on, and always under npm start); the `projector` role
// (actors/projector-main.ts) runs them alone, so a deployment can take them off the payment workers.
//
// Any number of processes may run them at once, and any may die at any moment: each follower locks
// its position row per batch (streams/db/follower.ts), so a batch is applied and its position moved in
// one transaction — a kill rolls both back and the next process applies it once; the webhook
// dispatcher is a durable consumer whose store dedupes what is redelivered.
//
// The janitor is not here: it re-drives payments left open, loading them through the worker's own
// journal, so it is part of the payments' liveness and stays with the payment actors — a projector
// down must not leave a payment stuck.
import { createServer } from "node:http";
import type { Config } from "../config/env.ts";
import type { Logger } from "../config/log.ts";
import type { Metrics } from "../config/metrics.ts";
import type { Infra } from "../streams/infra.ts";
import { CommandBus } from "../streams/command-bus.ts";
import { TableUpkeep } from "../streams/db/upkeep.ts";
import { ChallengeExpiry } from "./expiry.ts";
import { followAppendedFrames } from "./projections/frames.ts";
import { READ_MODELS, startReadModels, type ReadModels } from "./readmodels.ts";
import { startWebhooks, type Webhooks } from "./webhooks/service.ts";

export type Projections = {
  readModels: ReadModels;
  /** The expiry of abandoned 3-D Secure challenges (it reads the payments read model). */
  expiry: ChallengeExpiry;
  /** The webhook dispatcher and sender (absent with SWITCHYARD_WEBHOOKS=off). */
  webhooks?: Webhooks;
  /** The tables' vacuum and analyze where no autovacuum runs (streams/db/upkeep.ts). */
  upkeep: TableUpkeep;
  stop(): Promise<void>;
};

export type ProjectionOptions = { cardKey: Buffer; sandboxUrl: string; metrics: Metrics; log: Logger };

export async function startProjections(
  config: Config,
  infra: Infra,
  o: ProjectionOptions,
): Promise<Projections> {
  const readModels = await startReadModels(config, infra, infra.db, {
    metrics: o.metrics,
    log: o.log,
    sandboxUrl: o.sandboxUrl,
  });
  // The frames this process's workers append are handed to these followers as read (no parse).
  const unfollow = followAppendedFrames();
  const bus = new CommandBus(infra.nc, infra.js, infra.topo, o.log);
  bus.start();
  const expiry = new ChallengeExpiry({
    bus,
    sql: infra.db.sql,
    metrics: o.metrics,
    log: o.log,
    now: () => new Date(),
    expiryMs: config.challenges.expiryMs,
    everyMs: config.challenges.sweepEveryMs,
  });
  expiry.start();
  const stopExpiry = async () => {
    await expiry.stop();
    await bus.close();
  };
  let webhooks: Webhooks | undefined;
  try {
    webhooks = config.webhooks.enabled
      ? await startWebhooks(config, infra, {
          cardKeys: [o.cardKey, ...config.retiredCardKeys],
          metrics: o.metrics,
          log: o.log,
        })
      : undefined;
  } catch (err) {
    await stopExpiry().catch(() => undefined);
    await readModels.stop().catch(() => undefined);
    unfollow();
    throw err;
  }
  // The tables these followers write, vacuumed and analyzed where no autovacuum will (PGlite, a
  // server with it off); nothing where autovacuum runs.
  const upkeep = new TableUpkeep({ sql: infra.db.sql, log: o.log, metrics: o.metrics });
  await upkeep.start().catch((err: unknown) => {
    o.log.warn({ err }, "database upkeep not started: whether autovacuum runs could not be read");
    return false;
  });
  return {
    readModels,
    expiry,
    ...(webhooks && { webhooks }),
    upkeep,
    async stop() {
      await upkeep.stop();
      await webhooks?.stop();
      await stopExpiry();
      await readModels.stop();
      unfollow();
    },
  };
}

export type ProjectorRole = Projections & { metricsUrl?: string };

/** The projector role: the projections alone, with their own /metrics door (lag, set-aside frames). */
export async function startProjectorRole(
  config: Config,
  infra: Infra,
  o: ProjectionOptions & { serveMetrics: boolean },
): Promise<ProjectorRole> {
  const projections = await startProjections(config, infra, o);
  const role: ProjectorRole = { ...projections, stop: () => projections.stop() };
  if (o.serveMetrics) {
    const server = await serveMetrics(o.metrics, config.gateway.host, config.projector.metricsPort).catch(
      (err: unknown) => {
        o.log.warn(
          { err, port: config.projector.metricsPort },
          "projector metrics not served: port unavailable (set SWITCHYARD_PROJECTOR_METRICS_PORT; 0 = any free port)",
        );
        return undefined;
      },
    );
    if (server) {
      role.metricsUrl = server.url;
      role.stop = async () => {
        await server.close();
        await projections.stop();
      };
      o.log.info({ url: server.url }, "projector metrics listening");
    }
  }
  o.log.info(
    { readModels: READ_MODELS, webhooks: projections.webhooks !== undefined },
    "projector following the streams",
  );
  return role;
}

/** A bare HTTP server with GET /metrics (Prometheus) and GET /healthz, for a role without a gateway. */
export async function serveMetrics(
  metrics: Metrics,
  host: string,
  port: number,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/metrics") {
      metrics.render().then(
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
