// The worker role, composed: from a Config and the process's infrastructure to a running worker —
// PSP connectors, the live policy view, the payment actors — plus its own /metrics door when no
// gateway shares the process. Used by actors/main.ts (the Procfile's worker) and by npm start.
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { hostname } from "node:os";
import type { Config } from "../config/env.ts";
import type { Logger } from "../config/log.ts";
import type { Metrics } from "../config/metrics.ts";
import type { Infra } from "../streams/infra.ts";
import { capabilitiesOf, createConnectors } from "./psp/registry.ts";
import { startReadModels, type ReadModels } from "./readmodels.ts";
import { startWebhooks, type Webhooks } from "./webhooks/service.ts";
import { startWorker, type Worker } from "./worker.ts";

export type WorkerRole = {
  worker: Worker;
  readModels: ReadModels;
  /** The webhook dispatcher and sender (absent with SWITCHYARD_WEBHOOKS=off). */
  webhooks?: Webhooks;
  metricsUrl?: string;
  stop(): Promise<void>;
};

export async function startWorkerRole(
  config: Config,
  infra: Infra,
  o: { cardKey: Buffer; sandboxUrl: string; serveMetrics: boolean; metrics: Metrics; log: Logger },
): Promise<WorkerRole> {
  const connectors = createConnectors({
    sandboxUrl: o.sandboxUrl,
    timeoutMs: config.psp.timeoutMs,
    notifications: config.notifications,
  });
  const capabilities = capabilitiesOf(connectors);
  await infra.seedDefaultPolicies(capabilities);
  const policies = await infra.policyStore.watch();
  const stops: Array<() => Promise<void>> = [() => Promise.resolve(policies.close())];
  try {
    const worker = await startWorker({
      nc: infra.nc,
      js: infra.js,
      jsm: infra.jsm,
      redis: infra.redis,
      topo: infra.topo,
      connectors,
      capabilities,
      policies,
      opsBoard: infra.opsBoard,
      workerId: `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`,
      cardKeys: [o.cardKey, ...config.retiredCardKeys],
      snapshotEvery: config.snapshotEvery,
      passivateAfterMs: config.passivateAfterMs,
      metrics: o.metrics,
      log: o.log,
    });
    stops.push(() => worker.stop());
    const readModels = await startReadModels(config, infra, infra.db, {
      metrics: o.metrics,
      log: o.log,
      sandboxUrl: o.sandboxUrl,
    });
    // Stopped after the worker (stops run in reverse): on SIGTERM the command consumer is the first
    // thing to stop, so no command is taken once the process said it takes no more.
    stops.splice(stops.length - 1, 0, () => readModels.stop());
    const webhooks = config.webhooks.enabled
      ? await startWebhooks(config, infra, {
          cardKeys: [o.cardKey, ...config.retiredCardKeys],
          metrics: o.metrics,
          log: o.log,
        })
      : undefined;
    // Likewise after the worker, and before the read models.
    if (webhooks) stops.splice(stops.length - 1, 0, () => webhooks.stop());
    const role: WorkerRole = {
      worker,
      readModels,
      ...(webhooks && { webhooks }),
      async stop() {
        for (const stop of stops.reverse()) await stop();
      },
    };
    // Without a gateway in this process, the worker's metrics (PSP health, routing) need their own door.
    // A second worker on the same host with the default port still works; it says what to set.
    if (o.serveMetrics) {
      const server = await serveMetrics(o.metrics, config.gateway.host, config.worker.metricsPort).catch(
        (err: unknown) => {
          o.log.warn(
            { err, port: config.worker.metricsPort },
            "worker metrics not served: port unavailable (set SWITCHYARD_WORKER_METRICS_PORT; 0 = any free port)",
          );
          return undefined;
        },
      );
      if (server) {
        role.metricsUrl = server.url;
        stops.push(server.close);
        o.log.info({ url: server.url }, "worker metrics listening");
      }
    }
    return role;
  } catch (err) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw err;
  }
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
