// The worker role on its own (Procfile): payment actors fed by PAY_CMD. Loads no simulator and no
// local-services code: NATS and Redis must answer at NATS_URL / REDIS_URL.
import { loadOrCreateCardKey } from "../config/secrets.ts";
import { createLogger } from "../config/log.ts";
import { createMetrics } from "../config/metrics.ts";
import { runProcess } from "../config/process.ts";
import { openInfra } from "../streams/infra.ts";
import { startWorkerRole } from "./role.ts";

await runProcess(async (config) => {
  const log = createLogger(config.logLevel, { service: "switchyard", role: "worker" });
  const metrics = createMetrics({ defaultMetrics: true });
  const infra = await openInfra(config, "switchyard-worker", log);
  try {
    const cardKey = config.cardKey ?? loadOrCreateCardKey(config.dataDir);
    const role = await startWorkerRole(config, infra, {
      cardKey,
      sandboxUrl: config.sandbox.url,
      serveMetrics: true,
      metrics,
      log,
    });
    return {
      log,
      async stop() {
        await role.stop();
        await infra.close();
      },
    };
  } catch (err) {
    await infra.close();
    throw err;
  }
});
