// A gateway with the operator API, listening on a random port, over a real policy store and ops
// board (JetStream KV) under a random prefix. No payments flow: the merchant side is stubbed, but
// merchant keys authenticate, so a test can check that they are refused on /ops. Every log line
// is captured.
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { FastifyInstance } from "fastify";
import {
  FeePolicy,
  RetryPolicy,
  RoutingPolicy,
  type PolicyKind,
  type PolicyOf,
  type PspCapabilities,
} from "../../actors/policy/core/schemas.ts";
import { buildGateway } from "../../gateway/app.ts";
import { hashKey, MerchantAuth } from "../../gateway/auth.ts";
import { OperatorAuth } from "../../gateway/operator-auth.ts";
import type { OperatorRole } from "../../config/env.ts";
import { createMetrics } from "../../config/metrics.ts";
import { ClusterView, type ClusterViewOptions } from "../../streams/cluster-view.ts";
import { OpsBoard } from "../../streams/ops-board.ts";
import { PolicyStore } from "../../actors/policy/store.ts";
import { NATS_URL, uniquePrefix } from "../support/infra.ts";
import { capturingLogger } from "../support/log-capture.ts";

export const OPERATORS = {
  alice: { name: "alice", key: `op_test_${randomBytes(16).toString("hex")}` },
  bob: { name: "bob", key: `op_test_${randomBytes(16).toString("hex")}` },
} as const;

export const MERCHANT = { merchantId: "m_alpha", key: `sk_test_${randomBytes(16).toString("hex")}` };

/** A routing policy with no rules: everything goes to `fallback`. */
export function routing(fallback: string[] = ["acme", "bolt"], description?: string): RoutingPolicy {
  return RoutingPolicy.parse({
    kind: "routing",
    home_country: "DE",
    fallback,
    ...(description !== undefined && { description }),
  });
}

/** Valid with testCapabilities(): what a fresh bucket is seeded with. */
export const DEFAULTS: { [K in PolicyKind]: PolicyOf<K> } = {
  routing: routing(),
  fees: FeePolicy.parse({ kind: "fees", psps: { acme: [{ fixed: { EUR: 25 }, percent: "1.4" }] } }),
  retries: RetryPolicy.parse({ kind: "retries" }),
};

export function testCapabilities(): Map<string, PspCapabilities> {
  const all = { threeDs: true, partialCapture: true, refunds: true };
  return new Map([
    ["acme", { currencies: ["EUR", "USD", "GBP"], brands: ["visa", "mastercard"], ...all }],
    ["bolt", { currencies: ["EUR", "USD"], brands: ["visa", "mastercard", "amex"], ...all }],
  ]);
}

export type OpsHarness = {
  url: string;
  nc: NatsConnection;
  /** The random prefix of its buckets (the cluster buckets a test writes are named from it). */
  prefix: string;
  store: PolicyStore;
  board: OpsBoard;
  /** The map the gateway validates against: a test may remove a PSP from it. */
  capabilities: Map<string, PspCapabilities>;
  app: FastifyInstance;
  logs: string[];
  /** `key` defaults to alice's operator key; null sends no Authorization header. */
  call(method: string, path: string, opts?: { key?: string | null; body?: unknown }): Promise<Response>;
  close(): Promise<void>;
};

export async function startOpsGateway(
  opts: {
    operatorKeys?: ReadonlyArray<{ name: string; key: string; role?: OperatorRole }>;
    defaults?: { [K in PolicyKind]: PolicyOf<K> };
    /** GET /ops/cluster over this prefix's member and lease buckets (none is created), or over that view. */
    cluster?: ClusterViewOptions | Pick<ClusterView, "read">;
  } = {},
): Promise<OpsHarness> {
  const nc = await connect({ servers: NATS_URL });
  const js = jetstream(nc);
  const prefix = uniquePrefix();
  const store = await new PolicyStore(js, prefix).ensure();
  const board = await new OpsBoard(js, prefix).ensure();
  if (opts.defaults) await store.seedDefaults(opts.defaults);

  const { log, lines: logs } = capturingLogger();
  const capabilities = testCapabilities();
  const app = await buildGateway({
    bus: { send: () => Promise.reject(new Error("no payments in the ops harness")) },
    payments: { get: () => Promise.resolve(undefined) },
    auth: new MerchantAuth([{ merchantId: MERCHANT.merchantId, keyHash: hashKey(MERCHANT.key) }]),
    cardKey: randomBytes(32),
    replyWaitMs: 200,
    readiness: [],
    metrics: createMetrics(),
    log,
    pspCapabilities: capabilities,
    ops: {
      store,
      board,
      capabilities,
      auth: OperatorAuth.fromKeys(opts.operatorKeys ?? Object.values(OPERATORS)),
      ...(opts.cluster && {
        cluster: "read" in opts.cluster ? opts.cluster : new ClusterView(js, prefix, opts.cluster),
      }),
    },
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

  return {
    url,
    nc,
    prefix,
    store,
    board,
    capabilities,
    app,
    logs,
    call(method, path, callOpts = {}) {
      const headers: Record<string, string> = {};
      const key = callOpts.key === undefined ? OPERATORS.alice.key : callOpts.key;
      if (key !== null) headers.authorization = `Bearer ${key}`;
      let body: string | undefined;
      if (callOpts.body !== undefined) {
        body = JSON.stringify(callOpts.body);
        headers["content-type"] = "application/json";
      }
      return fetch(`${url}${path}`, { method, headers, ...(body !== undefined && { body }) });
    },
    async close() {
      await app.close();
      await store.destroy();
      await board.destroy();
      await nc.close();
    },
  };
}
