// Any set of roles (gateway, worker, sandbox) in one process, from a Config: what `npm start`, the
// tests and the bench run. Each role composes itself (gateway/role.ts, actors/role.ts) on the
// process's infrastructure (streams/infra.ts); this module only adds the PSP sandbox and puts them
// side by side. Production processes (the Procfile) never load it. Stopping reverses start-up:
// stop taking work, finish what is in flight, flush, disconnect.
import { join } from "node:path";
import { startWorkerRole } from "../actors/role.ts";
import type { ReadModels } from "../actors/readmodels.ts";
import type { Worker } from "../actors/worker.ts";
import type { Webhooks } from "../actors/webhooks/service.ts";
import type { ChallengeExpiry } from "../actors/expiry.ts";
import type { ProjectionsThread } from "../actors/projections-thread.ts";
import { withDevelopmentSecrets, type Config } from "../config/env.ts";
import { createLogger, type Logger } from "../config/log.ts";
import { createMetrics, type Metrics } from "../config/metrics.ts";
import { loadOrCreateCardKey } from "../config/secrets.ts";
import { startGatewayRole } from "../gateway/role.ts";
import { openInfra, type Infra } from "../streams/infra.ts";
import { startSandbox, type Sandbox } from "./sandbox-psp.ts";

export type Role = "gateway" | "worker" | "sandbox";

export type Platform = {
  config: Config;
  metrics: Metrics;
  log: Logger;
  /** Base URL of the gateway, when it runs here. */
  url?: string;
  /** The gateway's gRPC address (`host:port`), when it runs here with GRPC_PORT not off. */
  grpcAddress?: string;
  sandbox?: Sandbox;
  worker?: Worker;
  /** The worker's read models (PostgreSQL projections), when a worker runs here. */
  readModels?: ReadModels;
  /** The expiry of abandoned 3-D Secure challenges, when this process runs the projections. */
  expiry?: ChallengeExpiry;
  /** The webhook dispatcher and sender, when this process runs them. */
  webhooks?: Webhooks;
  /**
   * The projections' worker thread (SWITCHYARD_PROJECTIONS=thread): the read models, expiry and
   * webhooks above are then in that thread, not reachable from here.
   */
  projectionsThread?: ProjectionsThread;
  /** Where a worker without a gateway serves /metrics. */
  metricsUrl?: string;
  /** The process's clients (NATS, Redis, PostgreSQL), when a gateway or worker runs here. */
  infra?: Infra;
  /** The demo merchant's key, only on the start that created it. */
  demoKey?: string;
  stop(): Promise<void>;
};

export type PlatformOptions = {
  roles: ReadonlySet<Role>;
  log?: Logger;
};

export async function startPlatform(given: Config, opts: PlatformOptions): Promise<Platform> {
  const log = opts.log ?? createLogger(given.logLevel, { service: "switchyard" });
  // Development only (npm start, the tests, the bench, the Procfile's sandbox): a notification secret
  // left unset is the published development one, which the sandbox signs with. The production roles
  // (gateway/main.ts) never come through here and keep such a PSP's door closed instead.
  const { config, filled } = withDevelopmentSecrets(given);
  if (filled.length > 0)
    log.warn({ variables: filled }, "development mode: PSP notifications use the public development secrets");
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
      const notifyUrl = config.notifications.sandboxNotifyUrl ?? defaultSandboxNotifyUrl(config.gateway);
      const sandbox = await startSandbox({
        // HOST, as the gateway and the metrics doors: in a container the sandbox must listen beyond loopback.
        host: config.gateway.host,
        port: config.sandbox.port,
        slowCardDelayMs: config.sandbox.slowCardDelayMs,
        retainCharges: config.sandbox.retainCharges,
        logger: log.child({ role: "sandbox" }),
        ...(config.sandbox.persist && { stateFile: join(config.dataDir, "sandbox-psp.json") }),
        notificationSecrets: config.notifications,
        ...(notifyUrl !== undefined && { notifyUrl }),
      });
      platform.sandbox = sandbox;
      stops.push(() => sandbox.close());
      log.info(
        { url: sandbox.url, notifyUrl: notifyUrl ?? null },
        notifyUrl === undefined
          ? "PSP sandbox listening; it notifies nowhere until told (SANDBOX_NOTIFY_URL)"
          : "PSP sandbox listening",
      );
    }
    if (!opts.roles.has("gateway") && !opts.roles.has("worker")) return platform;

    const infra = await openInfra(config, `switchyard-${[...opts.roles].join("+")}`, log);
    stops.push(() => infra.close());
    platform.infra = infra;
    const cardKey = config.cardKey ?? loadOrCreateCardKey(config.dataDir);
    const sandboxUrl = platform.sandbox?.url ?? config.sandbox.url;

    if (opts.roles.has("worker")) {
      const role = await startWorkerRole(config, infra, {
        cardKey,
        sandboxUrl,
        serveMetrics: !opts.roles.has("gateway"),
        metrics,
        log: log.child({ role: "worker" }),
      });
      platform.worker = role.worker;
      if (role.readModels) platform.readModels = role.readModels;
      if (role.webhooks) platform.webhooks = role.webhooks;
      if (role.expiry) platform.expiry = role.expiry;
      if (role.projectionsThread) platform.projectionsThread = role.projectionsThread;
      if (role.metricsUrl !== undefined) platform.metricsUrl = role.metricsUrl;
      stops.push(() => role.stop());
    }
    if (opts.roles.has("gateway")) {
      const gateway = await startGatewayRole(config, infra, {
        cardKey,
        sandboxUrl,
        metrics,
        log: log.child({ role: "gateway" }),
      });
      stops.push(() => gateway.stop());
      platform.url = gateway.url;
      if (gateway.grpcAddress !== undefined) platform.grpcAddress = gateway.grpcAddress;
      // The sandbox's PSPs notify this gateway unless told where else.
      if (config.notifications.sandboxNotifyUrl === undefined)
        platform.sandbox?.setNotifyUrl(`${gateway.url}/webhooks/psp`);
      if (gateway.demoKey !== undefined) platform.demoKey = gateway.demoKey;
      log.info({ url: gateway.url }, "gateway listening");
    }
    return platform;
  } catch (err) {
    await platform.stop();
    throw err;
  }
}

/**
 * Where the sandbox's PSPs notify when SANDBOX_NOTIFY_URL is unset: the gateway's door at its
 * configured HOST and PORT (the Procfile's roles share one environment: http://127.0.0.1:8080/webhooks/psp
 * by default), a wildcard host read as this machine. None when the port is picked at start (0): a
 * gateway in the same process sets it then.
 */
export function defaultSandboxNotifyUrl(gateway: { host: string; port: number }): string | undefined {
  if (gateway.port === 0) return undefined;
  const host = ["0.0.0.0", "::", "[::]"].includes(gateway.host) ? "127.0.0.1" : gateway.host;
  return `http://${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${gateway.port}/webhooks/psp`;
}
