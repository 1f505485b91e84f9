// Mocha global fixture: NATS JetStream and Redis for the whole test run, reusing servers that
// already answer (CI, a developer's own) and starting local binaries otherwise. Tests isolate
// their state with random names and SWITCHYARD_PREFIX, not with private servers.
import { loadConfig } from "../../config/env.ts";
import { ensureServices, type LocalServices } from "../../scripts/local-services.ts";

let services: LocalServices | undefined;

export async function mochaGlobalSetup(): Promise<void> {
  const config = loadConfig();
  services = await ensureServices({
    natsUrl: config.nats.url,
    redisUrl: config.redis.url,
    dataDir: ".data/test-services",
    binDirs: config.binDirs,
    log: (line) => console.error(`[test services] ${line}`),
  });
}

export async function mochaGlobalTeardown(): Promise<void> {
  await services?.stop();
  services = undefined;
}
