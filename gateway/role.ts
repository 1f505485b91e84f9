// The gateway role, composed: from a Config and the process's infrastructure to a listening HTTP
// API — command bus, payment reads from the event store, merchant and operator keys, the operator
// API over the policy store, ops board and dead letters. Used by gateway/main.ts (the Procfile's
// gateway) and by npm start.
import type { FastifyInstance } from "fastify";
import { Journal } from "../actors/payment/journal.ts";
import { timeline } from "../actors/projections/timeline.ts";
import { rebuildReadModels, streamHeads } from "../actors/readmodels.ts";
import { SCHEMA_VERSION } from "../actors/payment/core/state.ts";
import { toView } from "../actors/payment/core/view.ts";
import { capabilitiesOf, closedNotificationDoors, createConnectors } from "../actors/psp/registry.ts";
import type { Config } from "../config/env.ts";
import type { Logger } from "../config/log.ts";
import type { Metrics } from "../config/metrics.ts";
import { loadOrCreateDemoMerchant } from "../config/secrets.ts";
import { CommandBus, NatsUnavailableError } from "../streams/command-bus.ts";
import { isConnected } from "../streams/connection.ts";
import { AuditLog } from "../streams/audit-log.ts";
import { MerchantKeyStore, type SeedKey } from "../streams/merchant-keys.ts";
import { KEY_PREFIX_LENGTH } from "../actors/merchants/core/keys.ts";
import { ClusterView } from "../streams/cluster-view.ts";
import { DeadLetters } from "../streams/dead-letters.ts";
import { EventStore } from "../streams/event-store.ts";
import type { Infra } from "../streams/infra.ts";
import { SnapshotStore } from "../streams/snapshots.ts";
import { WebhookEndpointStore } from "../actors/webhooks/endpoints.ts";
import { ProcessedNotifications } from "../streams/processed-notifications.ts";
import { UnmatchedNotifications } from "../streams/unmatched-notifications.ts";
import { snapshotKey } from "../streams/topology.ts";
import { buildGateway } from "./app.ts";
import { hashKey, LiveMerchantAuth } from "./auth.ts";
import { OperatorAuth } from "./operator-auth.ts";
import { StripeStores } from "./stripe/stores.ts";
import { startGrpcServer, type GrpcServer } from "./grpc/server.ts";
import { grpcMetrics } from "./grpc/metrics.ts";
import { followFrames } from "./grpc/watch-feed.ts";

export type GatewayRole = {
  app: FastifyInstance;
  url: string;
  /** Where the gRPC server listens (`host:port`), unless GRPC_PORT=off. */
  grpcAddress?: string;
  demoKey?: string;
  stop(): Promise<void>;
};

export async function startGatewayRole(
  config: Config,
  infra: Infra,
  o: { cardKey: Buffer; sandboxUrl: string; metrics: Metrics; log: Logger },
): Promise<GatewayRole> {
  const { nc, js, jsm, redis, topo } = infra;
  // The connectors also verify the PSPs' notifications at the door (parseNotification).
  const connectors = createConnectors({
    sandboxUrl: o.sandboxUrl,
    timeoutMs: config.psp.timeoutMs,
    notifications: config.notifications,
  });
  const capabilities = capabilitiesOf(connectors);
  // No secret, no door: said once here, in /readyz, and by each refusal (503 notifications_not_configured).
  const closedDoors = closedNotificationDoors(config.notifications);
  if (closedDoors.length > 0)
    o.log.warn(
      { psps: closedDoors, variables: ["SWITCHYARD_ACME_WEBHOOK_SECRET", "SWITCHYARD_BOLT_HMAC_KEY"] },
      "PSP notification doors closed: no notification secret configured for these PSPs",
    );
  await infra.seedDefaultPolicies(capabilities);
  const bus = new CommandBus(nc, js, topo, o.log);
  const notifications = new UnmatchedNotifications(js, jsm, topo);
  const processed = await new ProcessedNotifications(js, config.prefix, {
    replicas: config.streamReplicas,
  }).ensure();
  bus.start();
  const snapshots = new SnapshotStore(redis, (id) => snapshotKey(topo, id), o.log, o.metrics, SCHEMA_VERSION);
  const eventStore = new EventStore(js, jsm, topo, o.metrics);
  const journal = new Journal(eventStore, snapshots);
  // Merchants and keys live in the merchants bucket; the configured keys (or the demo merchant's)
  // seed it, each once, with every scope.
  const seeds: SeedKey[] = config.bootstrapKeys.map((k) => ({
    merchantId: k.merchantId,
    keyHash: hashKey(k.key),
    prefix: k.key.slice(0, KEY_PREFIX_LENGTH),
  }));
  let demoKey: string | undefined;
  if (seeds.length === 0) {
    const demo = loadOrCreateDemoMerchant(config.dataDir);
    seeds.push({
      merchantId: demo.merchantId,
      keyHash: demo.keyHash,
      prefix: demo.createdKey?.slice(0, KEY_PREFIX_LENGTH) ?? "sk_demo_",
    });
    demoKey = demo.createdKey;
  }
  const merchants = await new MerchantKeyStore(js, config.prefix, {
    replicas: config.streamReplicas,
    log: o.log,
  }).ensure();
  await merchants.seed(seeds);
  await merchants.watch();
  const auditLog = new AuditLog(js, topo, infra.db.sql, o.metrics, (err, seq) =>
    o.log.error({ err, seq }, "audit record stored in the stream, its GET /ops/audit row not written"),
  );
  const stripe = await StripeStores.open(js, config.prefix, config.streamReplicas);
  // What the HTTP API and the gRPC server share: one command path, one reader, one key index.
  const shared = {
    bus,
    payments: {
      async get(paymentId: string) {
        if (!isConnected(nc)) throw new NatsUnavailableError("NATS is not connected");
        const { state } = await journal.load(paymentId);
        return state && toView(state);
      },
    },
    auth: new LiveMerchantAuth(merchants),
    pspCapabilities: capabilities,
    cardKey: o.cardKey,
    // Fingerprints must not change when the card key rotates: they derive from the oldest key.
    fingerprintKey: config.retiredCardKeys.at(-1) ?? o.cardKey,
    replyWaitMs: config.gateway.replyWaitMs,
    metrics: o.metrics,
    log: o.log,
  };
  const app = await buildGateway({
    ...shared,
    stripe,
    readModels: infra.db.sql,
    readiness: [
      { name: "nats", check: async () => void (await nc.rtt()) },
      { name: "jetstream", check: async () => void (await jsm.getAccountInfo()) },
      { name: "redis", check: async () => void (await redis.ping()) },
    ],
    webhookEndpoints: {
      // Sealed under the card keys, so they rotate with them: the current key seals, all open.
      store: new WebhookEndpointStore(infra.db.sql, {
        keys: [o.cardKey, ...config.retiredCardKeys],
        graceMs: config.webhookEndpoints.secretGraceMs,
      }),
      urlPolicy: config.webhookEndpoints,
      auditLog,
    },
    pspNotifications: {
      connectors,
      bus,
      unmatched: notifications,
      replyWaitMs: config.gateway.replyWaitMs,
      processed,
      closed: closedDoors,
      ...(config.notifications.basicAuth && { basicAuth: config.notifications.basicAuth }),
    },
    ops: {
      notifications,
      store: infra.policyStore,
      board: infra.opsBoard,
      deadLetters: new DeadLetters(js, jsm, topo),
      auditLog,
      payments: {
        sql: infra.db.sql,
        bus,
        replyWaitMs: config.gateway.replyWaitMs,
        async view(paymentId) {
          const { state } = await journal.load(paymentId);
          return state && toView(state);
        },
        timeline: (paymentId) => timeline(eventStore, infra.db.sql, paymentId),
      },
      settlement: {
        js,
        topo,
        sql: infra.db.sql,
        tolerance: {
          minor: config.settlement.feeToleranceMinor,
          percent: config.settlement.feeTolerancePercent,
        },
        log: o.log,
        metrics: o.metrics,
        async homeCountry() {
          const active = await infra.policyStore.activeVersion("routing");
          const stored = active && (await infra.policyStore.get("routing", active.version));
          return stored?.document.home_country ?? "NL";
        },
        async rebuild(name) {
          if (name !== "all") return false;
          // Where each must get back to: until then it answers rebuilding, not an empty ledger.
          await rebuildReadModels(infra.db, await streamHeads(jsm, topo));
          return true;
        },
      },
      capabilities,
      auth: OperatorAuth.fromKeys(config.operatorKeys),
      merchants,
      cluster: new ClusterView(js, config.prefix, {
        partitions: config.partitions,
        leaseTtlMs: config.leaseTtlMs,
      }),
    },
  });
  let url: string;
  let grpc: GrpcServer | undefined;
  try {
    url = await app.listen({ port: config.gateway.port, host: config.gateway.host });
    if (config.grpc.port !== undefined) {
      grpc = await startGrpcServer(
        {
          host: config.gateway.host,
          port: config.grpc.port,
          watchesPerMerchant: config.grpc.watchesPerMerchant,
          tls: config.grpc.tls,
        },
        {
          ...shared,
          watch: {
            load: (paymentId) => journal.load(paymentId),
            follow: followFrames(js, jsm, topo, {
              log: o.log,
              nc,
              reopened: grpcMetrics(o.metrics).feedReopened,
            }),
          },
          serving: () => isConnected(nc),
        },
      );
      o.log.info({ address: grpc.address, tls: config.grpc.tls !== undefined }, "gRPC server listening");
    }
  } catch (err) {
    merchants.close();
    await bus.close();
    await app.close();
    throw err;
  }
  return {
    app,
    url,
    ...(grpc !== undefined && { grpcAddress: grpc.address }),
    ...(demoKey !== undefined && { demoKey }),
    async stop() {
      await grpc?.stop();
      await app.close();
      merchants.close();
      await bus.close();
    },
  };
}
