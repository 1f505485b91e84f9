// The worker role, composed: from a Config and the process's infrastructure to a running worker —
// PSP connectors, the live policy view, the payment actors (and their janitor) — plus the projections
// (actors/projector-role.ts): in this event loop by default, on a worker thread of their own with
// SWITCHYARD_PROJECTIONS=thread (actors/projections-thread.ts), not at all with `off` (a `projector`
// process runs them) — and its own /metrics door when no gateway shares the process. Used by actors/main.ts (the
// Procfile's worker) and by npm start.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Config } from "../config/env.ts";
import type { Logger } from "../config/log.ts";
import type { Metrics } from "../config/metrics.ts";
import type { Infra } from "../streams/infra.ts";
import { capabilitiesOf, createConnectors } from "./psp/registry.ts";
import { serveMetrics, startProjections } from "./projector-role.ts";
import { startProjectionsThread, type ProjectionsThread } from "./projections-thread.ts";
import type { ReadModels } from "./readmodels.ts";
import type { ChallengeExpiry } from "./expiry.ts";
import type { Webhooks } from "./webhooks/service.ts";
import { startWorker, type Worker } from "./worker.ts";

export type WorkerRole = {
  worker: Worker;
  /** The read models, with SWITCHYARD_PROJECTIONS=on (in this event loop). */
  readModels?: ReadModels;
  /** The expiry of abandoned challenges, with SWITCHYARD_PROJECTIONS=on. */
  expiry?: ChallengeExpiry;
  /** The webhook dispatcher and sender, with SWITCHYARD_PROJECTIONS=on (and SWITCHYARD_WEBHOOKS on). */
  webhooks?: Webhooks;
  /** The projections' thread, with SWITCHYARD_PROJECTIONS=thread (the three above are then absent). */
  projectionsThread?: ProjectionsThread;
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
  infra.eventTap.countStallsIn(o.metrics);
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
      // A KV key: a host name's other characters (rare) become `_`.
      workerId: `${hostname()
        .replace(/[^A-Za-z0-9_=.-]/g, "_")
        .slice(0, 40)}-${process.pid}-${randomBytes(3).toString("hex")}`,
      leaseTtlMs: config.leaseTtlMs,
      cardKeys: [o.cardKey, ...config.retiredCardKeys],
      snapshotEvery: config.snapshotEvery,
      passivateAfterMs: config.passivateAfterMs,
      metrics: o.metrics,
      log: o.log,
      eventTap: infra.eventTap,
    });
    stops.push(() => worker.stop());
    const given = { cardKey: o.cardKey, sandboxUrl: o.sandboxUrl, metrics: o.metrics, log: o.log };
    const projections =
      config.worker.projections === "on" ? await startProjections(config, infra, given) : undefined;
    const thread =
      config.worker.projections === "thread" ? await startProjectionsThread(config, given) : undefined;
    const followers = projections ?? thread;
    // Stopped after the worker (stops run in reverse): on SIGTERM the command consumer is the first
    // thing to stop, so no command is taken once the process said it takes no more.
    if (followers) stops.splice(stops.length - 1, 0, () => followers.stop());
    else
      o.log.info(
        "projections off (SWITCHYARD_PROJECTIONS=off): read models, settlement and webhooks are left to a projector",
      );
    const role: WorkerRole = {
      worker,
      ...(projections && { readModels: projections.readModels, expiry: projections.expiry }),
      ...(projections?.webhooks && { webhooks: projections.webhooks }),
      ...(thread && { projectionsThread: thread }),
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
