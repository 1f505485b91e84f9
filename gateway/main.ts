// The gateway role on its own (Procfile): HTTP API → commands on JetStream. Loads no simulator and
// no local-services code: NATS and Redis must answer at NATS_URL / REDIS_URL.
import { createLogger } from "../config/log.ts";
import { createMetrics } from "../config/metrics.ts";
import { runProcess } from "../config/process.ts";
import { loadOrCreateCardKey } from "../config/secrets.ts";
import { withInfra } from "../streams/infra.ts";
import { startGatewayRole } from "./role.ts";

await runProcess("switchyard-gateway", async (config) => {
  const log = createLogger(config.logLevel, { service: "switchyard", role: "gateway" });
  const metrics = createMetrics({ defaultMetrics: true });
  const cardKey = config.cardKey ?? loadOrCreateCardKey(config.dataDir);
  const running = await withInfra(config, "switchyard-gateway", log, async (infra) => {
    const gateway = await startGatewayRole(config, infra, {
      cardKey,
      sandboxUrl: config.sandbox.url,
      metrics,
      log,
    });
    log.info({ url: gateway.url }, "gateway listening");
    return gateway;
  });
  return { log, stop: () => running.stop() };
});
