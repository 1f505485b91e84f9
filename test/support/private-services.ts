// A private nats-server or redis-server of a test's own, on a free port, started the way `npm start`
// starts them (scripts/local-services.ts), with its store under the test's data directory: the test
// can stop it to make an outage and start it again on the same store. The other URL handed to
// ensureServices points at the shared server, which answers, so only the private one starts (held).
import { join } from "node:path";
import { expect } from "chai";
import { ensureServices, type LocalServices } from "../../scripts/local-services.ts";
import { NATS_URL, REDIS_URL } from "./infra.ts";

/** Starts a nats-server at `natsUrl` storing under `<dataDir>/nats`; fails unless it started one. */
export async function startPrivateNats(natsUrl: string, dataDir: string): Promise<LocalServices> {
  const nats = await ensureServices({
    natsUrl,
    redisUrl: REDIS_URL,
    dataDir: join(dataDir, "nats"),
    log: () => undefined,
  });
  expect(nats.started).to.deep.equal(["nats-server"]);
  return nats;
}

/** Starts a redis-server at `redisUrl` under `<dataDir>/redis`; fails unless it started one. */
export async function startPrivateRedis(redisUrl: string, dataDir: string): Promise<LocalServices> {
  const redis = await ensureServices({
    natsUrl: NATS_URL,
    redisUrl,
    dataDir: join(dataDir, "redis"),
    log: () => undefined,
  });
  expect(redis.started).to.deep.equal(["redis-server"]);
  return redis;
}
