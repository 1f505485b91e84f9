// The projector role on its own (Procfile): the read models, settlement followers, challenge expiry
// and webhook dispatcher and sender (actors/projector-role.ts), off the payment workers, which then
// run with SWITCHYARD_PROJECTIONS=off. No payment actors: NATS, Redis and PostgreSQL must answer at
// NATS_URL / REDIS_URL / DATABASE_URL. SWITCHYARD_PROJECTIONS is the worker's switch and not read here.
import { createLogger } from "../config/log.ts";
import { createMetrics } from "../config/metrics.ts";
import { runProcess } from "../config/process.ts";
import { loadOrCreateCardKey } from "../config/secrets.ts";
import { withInfra } from "../streams/infra.ts";
import { startProjectorRole } from "./projector-role.ts";

await runProcess("switchyard-projector", async (config) => {
  const log = createLogger(config.logLevel, { service: "switchyard", role: "projector" });
  const metrics = createMetrics({ defaultMetrics: true });
  // The webhook sender opens the endpoints' signing secrets with the card key.
  const cardKey = config.cardKey ?? loadOrCreateCardKey(config.dataDir);
  const running = await withInfra(config, "switchyard-projector", log, (infra) =>
    startProjectorRole(config, infra, {
      cardKey,
      sandboxUrl: config.sandbox.url,
      serveMetrics: true,
      metrics,
      log,
    }),
  );
  return { log, stop: () => running.stop() };
});
