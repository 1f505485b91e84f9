// Runs a set of roles as one development process: `npm start` (all roles, starting local
// nats-server / redis-server, and an embedded PostgreSQL, when nothing answers) and the Procfile's
// sandbox. The production
// roles have their own entry points (gateway/main.ts, actors/main.ts) and never load this.
import { runProcess } from "../config/process.ts";
import { EmbeddedPostgresError, onEmbeddedPostgres } from "./local-postgres.ts";
import { ensureServices, MissingServiceError } from "./local-services.ts";
import { startPlatform, type Role } from "./platform.ts";

export async function run(roles: Role[], opts: { startLocalServices: boolean }): Promise<void> {
  await runProcess(roles.length === 1 ? `switchyard-${roles[0]}` : "switchyard", async (loaded) => {
    let config = loaded;
    let services: Awaited<ReturnType<typeof ensureServices>> | undefined;
    if (opts.startLocalServices) {
      try {
        services = await ensureServices({
          natsUrl: config.nats.url,
          redisUrl: config.redis.url,
          dataDir: config.dataDir,
          binDirs: config.binDirs,
          databaseUrl: config.database.url,
          log: (line) => process.stderr.write(`switchyard: ${line}\n`),
        });
      } catch (err) {
        if (err instanceof MissingServiceError || err instanceof EmbeddedPostgresError) {
          process.stderr.write(`switchyard: ${err.message}\n`);
          process.exit(1);
        }
        throw err;
      }
      const embedded = services.embeddedPostgres;
      // PGlite takes one connection at a time: every role in this process shares one, and the
      // projections run in this event loop rather than on a thread of their own.
      if (embedded !== undefined) {
        if (config.worker.projections === "thread")
          process.stderr.write(
            "switchyard: SWITCHYARD_PROJECTIONS=thread needs a PostgreSQL server (the embedded one serves one connection): the projections run in the main thread\n",
          );
        config = onEmbeddedPostgres(config, embedded.url);
      }
    }
    let platform;
    try {
      platform = await startPlatform(config, { roles: new Set(roles) });
    } catch (err) {
      await services?.stop();
      throw err;
    }
    if (platform.url !== undefined)
      // Last thing printed at start-up, so it is what the terminal shows once the logs settle.
      process.stdout.write(
        startBanner({
          url: platform.url,
          ...(platform.demoKey !== undefined && { demoKey: platform.demoKey }),
          demoKeyFile: config.bootstrapKeys.length === 0 ? `${config.dataDir}/demo-merchant.json` : undefined,
        }),
      );
    return {
      log: platform.log,
      async stop() {
        await platform.stop();
        await services?.stop();
      },
    };
  });
}

/** A request that succeeds against a fresh `npm start`: the test card, authorized and captured. */
export function exampleCurl(url: string, key: string): string {
  const body = JSON.stringify({
    amount: 4990,
    currency: "EUR",
    reference: "first-payment",
    payment_method: {
      type: "card",
      card: {
        number: "4242424242424242",
        exp_month: 12,
        exp_year: new Date().getUTCFullYear() + 3,
        cvc: "123",
      },
    },
  });
  return [
    `curl -s -X POST ${url}/v1/payments \\`,
    `  -H "Authorization: Bearer ${key}" \\`,
    `  -H "Idempotency-Key: first-payment" -H "Content-Type: application/json" \\`,
    `  -d '${body}'`,
  ].join("\n");
}

/**
 * What a newcomer needs once the platform is up: where it listens, the demo key when it was just
 * created (printed this once, to the terminal only: only its hash is stored), and a request to
 * paste that works.
 */
export function startBanner(opts: {
  url: string;
  demoKey?: string;
  demoKeyFile?: string | undefined;
}): string {
  const rule = "─".repeat(78);
  const lines = [``, rule, `  Switchyard is running at ${opts.url}`, ``];
  if (opts.demoKey !== undefined)
    lines.push(
      `  Demo merchant API key (shown only this once; only its hash is kept):`,
      ``,
      `      ${opts.demoKey}`,
      ``,
    );
  else if (opts.demoKeyFile !== undefined)
    lines.push(
      `  The demo merchant's key was printed when it was created. Lost it? Delete`,
      `  ${opts.demoKeyFile} and start again, or set SWITCHYARD_BOOTSTRAP_KEYS.`,
      ``,
    );
  const key = opts.demoKey ?? "$KEY";
  lines.push(
    `  Try it: authorize and capture 49.90 EUR with a test card (answers 201, status "captured"):`,
    ``,
    ...exampleCurl(opts.url, key)
      .split("\n")
      .map((l) => `    ${l}`),
    ``,
    `  Then GET ${opts.url}/v1/payments/<id> with the same key. The whole flow (capture, refund,`,
    `  cancel, test cards) is in README.md; the API is described at ${opts.url}/openapi.json.`,
    rule,
    ``,
    ``,
  );
  return lines.join("\n");
}
