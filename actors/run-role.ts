// A role of the actors' side (worker, projector) as its own process (Procfile): its logger and
// metrics, the card key (sealed cards and the webhook endpoints' signing secrets), the
// infrastructure, and the role started on them. Loads no simulator and no local-services code: NATS,
// Redis and PostgreSQL must answer at NATS_URL / REDIS_URL / DATABASE_URL.
import type { Config } from "../config/env.ts";
import { createLogger, type Logger } from "../config/log.ts";
import { createMetrics, type Metrics } from "../config/metrics.ts";
import { runProcess } from "../config/process.ts";
import { loadOrCreateCardKey } from "../config/secrets.ts";
import { withInfra, type Infra } from "../streams/infra.ts";

export type RoleOptions = {
  cardKey: Buffer;
  sandboxUrl: string;
  serveMetrics: boolean;
  metrics: Metrics;
  log: Logger;
};

export async function runRole(
  role: "worker" | "projector",
  start: (config: Config, infra: Infra, o: RoleOptions) => Promise<{ stop(): Promise<void> }>,
): Promise<void> {
  const service = `switchyard-${role}`;
  await runProcess(service, async (config) => {
    const log = createLogger(config.logLevel, { service: "switchyard", role });
    const metrics = createMetrics({ defaultMetrics: true });
    const cardKey = config.cardKey ?? loadOrCreateCardKey(config.dataDir);
    const running = await withInfra(config, service, log, (infra) =>
      start(config, infra, { cardKey, sandboxUrl: config.sandbox.url, serveMetrics: true, metrics, log }),
    );
    return { log, stop: () => running.stop() };
  });
}
