// Real NATS and Redis for integration tests, with a unique prefix per test run so runs never share
// state (streams, subjects and Redis keys all carry it) and everything is removed afterwards.
import { randomBytes } from "node:crypto";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { pino } from "pino";
import type { Logger } from "../../config/log.ts";
import { createMetrics, type Metrics } from "../../config/metrics.ts";
import { dispositionFor } from "../../actors/fate.ts";
import { CommandConsumer, type CommandHandler } from "../../streams/command-consumer.ts";
import { DeadLetters } from "../../streams/dead-letters.ts";
import { deleteTopology, ensureTopology, topology, type Topology } from "../../streams/topology.ts";

export const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export type Infra = {
  prefix: string;
  topo: Topology;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  redis: Redis;
  metrics: Metrics;
  log: Logger;
  close(): Promise<void>;
};

export function uniquePrefix(): string {
  return `t${randomBytes(5).toString("hex")}`;
}

export async function openInfra(
  opts: { partitions?: number; ackWaitMs?: number; prefix?: string } = {},
): Promise<Infra> {
  const prefix = opts.prefix ?? uniquePrefix();
  const topo = topology(prefix, opts.partitions ?? 4, { commandAckWaitMs: opts.ackWaitMs ?? 30_000 });
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  await ensureTopology(jsm, topo);
  const redis = new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 });
  return {
    prefix,
    topo,
    nc,
    js: jetstream(nc),
    jsm,
    redis,
    metrics: createMetrics(),
    log: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    async close() {
      await deleteTopology(jsm, topo);
      const keys = await redis.keys(`${topo.redisPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
      await nc.close();
    },
  };
}

/**
 * A command consumer on the run's infra (not started), its commands settled as the worker settles
 * them (dispositionFor) unless `opts.fate` says otherwise, its dead letters in the run's PAY_DLQ.
 */
export function commandConsumer(
  infra: Infra,
  handler: CommandHandler,
  opts: Partial<ConstructorParameters<typeof CommandConsumer>[8]> = {},
): CommandConsumer {
  return new CommandConsumer(
    infra.nc,
    infra.js,
    infra.jsm,
    infra.topo,
    handler,
    new DeadLetters(infra.js, infra.jsm, infra.topo),
    infra.metrics,
    infra.log,
    { fate: (failure, delivery) => dispositionFor(failure, delivery), ...opts },
  );
}
