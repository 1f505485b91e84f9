// The gateway role on its own (Procfile): HTTP API → commands on JetStream. Loads no simulator and
// no local-services code: NATS and Redis must answer at NATS_URL / REDIS_URL.
import { loadOrCreateCardKey } from "../config/secrets.ts";
import { createLogger } from "../config/log.ts";
import { createMetrics } from "../config/metrics.ts";
import { runProcess } from "../config/process.ts";
import { openInfra } from "../streams/infra.ts";
import { startGatewayRole } from "./role.ts";

await runProcess(async (config) => {
  const log = createLogger(config.logLevel, { service: "switchyard", role: "gateway" });
  const metrics = createMetrics({ defaultMetrics: true });
  const infra = await openInfra(config, "switchyard-gateway", log);
  try {
    const cardKey = config.cardKey ?? loadOrCreateCardKey(config.dataDir);
    const gateway = await startGatewayRole(config, infra, {
      cardKey,
      sandboxUrl: config.sandbox.url,
      metrics,
      log,
    });
    log.info({ url: gateway.url }, "gateway listening");
    return {
      log,
      async stop() {
        await gateway.stop();
        await infra.close();
      },
    };
  } catch (err) {
    await infra.close();
    throw err;
  }
});
