// The worker role on its own (Procfile): payment actors fed by PAY_CMD. Loads no simulator and no
// local-services code: NATS and Redis must answer at NATS_URL / REDIS_URL.
import { createLogger } from "../config/log.ts";
import { createMetrics } from "../config/metrics.ts";
import { runProcess } from "../config/process.ts";
import { loadOrCreateCardKey } from "../config/secrets.ts";
import { withInfra } from "../streams/infra.ts";
import { startWorkerRole } from "./role.ts";

await runProcess("switchyard-worker", async (config) => {
  const log = createLogger(config.logLevel, { service: "switchyard", role: "worker" });
  const metrics = createMetrics({ defaultMetrics: true });
  const cardKey = config.cardKey ?? loadOrCreateCardKey(config.dataDir);
  const running = await withInfra(config, "switchyard-worker", log, (infra) =>
    startWorkerRole(config, infra, {
      cardKey,
      sandboxUrl: config.sandbox.url,
      serveMetrics: true,
      metrics,
      log,
    }),
  );
  return { log, stop: () => running.stop() };
});
