// Runs a set of roles as a process: validate the configuration (a bad value stops start-up with
// every bad variable named), optionally start local NATS/Redis, start the roles, and stop them in
// order on SIGTERM/SIGINT. Used by `npm start` (all roles) and the Procfile (one role each).
import { ConfigError, loadConfig } from "../config/env.ts";
import { ensureServices, MissingServiceError } from "./local-services.ts";
import { startPlatform, type Role } from "./platform.ts";

export async function run(roles: Role[], opts: { startLocalServices: boolean }): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`switchyard: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  let services: Awaited<ReturnType<typeof ensureServices>> | undefined;
  if (opts.startLocalServices) {
    try {
      services = await ensureServices({
        natsUrl: config.nats.url,
        redisUrl: config.redis.url,
        dataDir: config.dataDir,
        binDirs: config.binDirs,
        log: (line) => process.stderr.write(`switchyard: ${line}\n`),
      });
    } catch (err) {
      if (err instanceof MissingServiceError) {
        process.stderr.write(`switchyard: ${err.message}\n`);
        process.exit(1);
      }
      throw err;
    }
  }
  let platform;
  try {
    platform = await startPlatform(config, { roles: new Set(roles) });
  } catch (err) {
    await services?.stop();
    process.stderr.write(`switchyard: could not start: ${startError(err)}\n`);
    process.exit(1);
  }
  if (platform.demoKey !== undefined) {
    // Printed once, to the terminal only: the key is stored nowhere in clear.
    process.stdout.write(
      `\nDemo merchant "demo" created. Its API key (shown only this once):\n\n  ${platform.demoKey}\n\n` +
        `Try: curl -s ${platform.url}/v1/payments -H "Authorization: Bearer ${platform.demoKey}" ...\n\n`,
    );
  } else if (roles.includes("gateway") && config.bootstrapKeys.length === 0) {
    process.stdout.write(
      `Demo merchant "demo": its key was printed when it was created. Lost it? Delete ` +
        `${config.dataDir}/demo-merchant.json and start again, or set SWITCHYARD_BOOTSTRAP_KEYS.\n`,
    );
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    platform.log.info({ signal }, "stopping: no new commands, finishing in-flight ones");
    await platform.stop();
    await services?.stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

/** One line a newcomer can act on, for the start-up failures we can foresee. */
function startError(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e.code === "EADDRINUSE")
    return `${e.address}:${e.port} is already in use (another Switchyard running? set PORT / SANDBOX_PORT)`;
  if (e.code === "ECONNREFUSED") return `${e.message} (is the server running? see NATS_URL / REDIS_URL)`;
  return e instanceof Error ? `${e.name}: ${e.message}` : String(err);
}
