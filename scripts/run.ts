// Runs a set of roles as one development process: `npm start` (all roles, starting local
// nats-server / redis-server when nothing answers) and the Procfile's sandbox. The production
// roles have their own entry points (gateway/main.ts, actors/main.ts) and never load this.
import { runProcess } from "../config/process.ts";
import { ensureServices, MissingServiceError } from "./local-services.ts";
import { startPlatform, type Role } from "./platform.ts";

export async function run(roles: Role[], opts: { startLocalServices: boolean }): Promise<void> {
  await runProcess(async (config) => {
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
      throw err;
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
    return {
      log: platform.log,
      async stop() {
        await platform.stop();
        await services?.stop();
      },
    };
  });
}
