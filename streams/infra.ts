// What every gateway and worker process connects to before it does anything: NATS with its
// JetStream streams and consumers (created idempotently), Redis for snapshots, and the KV-backed
// policy store and ops board. Infrastructure, but for one thing: the process's one policy store is
// opened with the policy workflow (actors/policy/store.ts), so a change the gateway makes reaches
// the worker's views in the same process at once. The roles build on it (gateway/role.ts,
// actors/role.ts). Closing reverses opening.
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import type { Config } from "../config/env.ts";
import type { Logger } from "../config/log.ts";
import type { PspCapabilities } from "../actors/policy/core/schemas.ts";
import { connectNats, explainReplicasError } from "./connection.ts";
import { openDb, type Db } from "./db/client.ts";
import { EventTap } from "./event-tap.ts";
import { OpsBoard } from "./ops-board.ts";
import { loadDefaultPolicies } from "./policy-seed.ts";
import { PolicyStore } from "../actors/policy/store.ts";
import { ensureTopology, topology, type Topology } from "./topology.ts";

export type Infra = {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  redis: Redis;
  /** PostgreSQL for the read models (projections of the streams; never the record). */
  db: Db;
  topo: Topology;
  /**
   * The process's one read of PAY_EVT (streams/event-tap.ts), shared by the janitor, the payments
   * read model and the webhook dispatcher of whichever roles this process runs.
   */
  eventTap: EventTap;
  policyStore: PolicyStore;
  opsBoard: OpsBoard;
  /**
   * Seeds the policy store from config/policies/ when it holds no version yet: once per process,
   * however many roles it runs (each role asks; the first does the work, the others share it).
   */
  seedDefaultPolicies(capabilities: ReadonlyMap<string, PspCapabilities>): Promise<void>;
  close(): Promise<void>;
};

export function topologyOf(config: Config): Topology {
  return topology(config.prefix, config.partitions, {
    commandAckWaitMs: config.commandAckWaitMs,
    commandMaxDeliver: config.commandMaxDeliver,
    janitorAfterMs: config.janitorAfterMs,
    replicas: config.streamReplicas,
    merchantEventMaxAgeMs: config.merchantEventsMaxAgeMs,
  });
}

export async function openInfra(config: Config, name: string, log: Logger): Promise<Infra> {
  const topo = topologyOf(config);
  const nc = await connectNats(config.nats, name, log);
  const closeNats = async () => {
    await nc.drain().catch(() => nc.close());
  };
  try {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    await ensureTopology(jsm, topo);
    const store = { replicas: config.streamReplicas, log };
    const policyStore = await new PolicyStore(js, config.prefix, store).ensure();
    const opsBoard = await new OpsBoard(js, config.prefix, store).ensure();
    // Redis is an accelerator: while it is away, commands must fail at once (and the actor replay
    // from JetStream), never queue up behind a reconnect and hold a payment.
    const redis = new Redis(config.redis.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 500,
      connectTimeout: 2_000,
    });
    redis.on("error", (err) => log.warn({ err: err.message }, "redis connection error"));
    const db = await openDb(config.database, log).catch((err: unknown) => {
      redis.disconnect();
      throw err;
    });
    let seeded: Promise<void> | undefined;
    const eventTap = new EventTap(js, topo.eventStream, log);
    return {
      nc,
      js,
      jsm,
      redis,
      db,
      topo,
      eventTap,
      policyStore,
      opsBoard,
      seedDefaultPolicies(capabilities) {
        seeded ??= policyStore.seedDefaults(loadDefaultPolicies(capabilities));
        return seeded;
      },
      async close() {
        await eventTap.stop();
        await redis.quit().catch(() => redis.disconnect());
        await db.close().catch((err: unknown) => log.warn({ err }, "database close failed"));
        await closeNats();
      },
    };
  } catch (err) {
    await closeNats();
    throw explainReplicasError(err, config.streamReplicas);
  }
}

/**
 * A process's infrastructure around one role: opened first, the role started on it, and closed
 * after the role stops (or at once when the role fails to start).
 */
export async function withInfra(
  config: Config,
  name: string,
  log: Logger,
  start: (infra: Infra) => Promise<{ stop(): Promise<void> }>,
): Promise<{ stop(): Promise<void> }> {
  const infra = await openInfra(config, name, log);
  try {
    const role = await start(infra);
    return {
      async stop() {
        await role.stop();
        await infra.close();
      },
    };
  } catch (err) {
    await infra.close();
    throw err;
  }
}
