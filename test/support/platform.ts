// The whole platform in the test process (sandbox, worker, gateway), on free ports, with a unique
// prefix and data dir; and a tiny HTTP client for the merchant API. Everything real: HTTP, NATS,
// Redis. `stop()` removes the streams and Redis keys the run created.
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { pino, type Logger } from "pino";
import type { PaymentView } from "../../actors/payment/core/view.ts";
import { loadConfig, type Config } from "../../config/env.ts";
import { startPlatform, type Platform, type Role } from "../../scripts/platform.ts";
import { dropSchema } from "../../streams/db/client.ts";
import { deleteTopology, topology } from "../../streams/topology.ts";
import { DATABASE_URL, NATS_URL, REDIS_URL, uniquePrefix } from "./infra.ts";
import { runDir } from "./run-dirs.ts";
import { waitFor } from "./wait.ts";

export type TestMerchant = { merchantId: string; key: string };

export type TestPlatform = Platform & {
  url: string;
  env: Record<string, string>;
  merchants: TestMerchant[];
  api(merchant: TestMerchant): Api;
  /** A client with the run's operator key, for /ops. */
  ops: Ops;
  cleanup(): Promise<void>;
};

/** A merchant API answer: a payment object, or an error body. */
export type ApiBody = PaymentView & { error: { code: string; message: string; details: unknown } };
export type ApiResponse = { status: number; body: ApiBody; headers: Headers };

export type Api = {
  post(
    path: string,
    body: unknown,
    idempotencyKey?: string,
    headers?: Record<string, string>,
  ): Promise<ApiResponse>;
  get(path: string): Promise<ApiResponse>;
};

/** The operator key of every test run (operator endpoints under /ops). */
export const OPERATOR_KEY = `op_test_${randomBytes(16).toString("hex")}`;

export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const merchants = [
    { merchantId: "m_alpha", key: `sk_test_${randomBytes(12).toString("hex")}` },
    { merchantId: "m_beta", key: `sk_test_${randomBytes(12).toString("hex")}` },
  ];
  return {
    PORT: "0",
    GRPC_PORT: "0",
    SANDBOX_PORT: "0",
    NATS_URL,
    REDIS_URL,
    DATABASE_URL,
    SWITCHYARD_PREFIX: uniquePrefix(),
    SWITCHYARD_PARTITIONS: "4",
    SWITCHYARD_BOOTSTRAP_KEYS: merchants.map((m) => `${m.merchantId}:${m.key}`).join(","),
    SWITCHYARD_OPERATOR_KEYS: `ops:${OPERATOR_KEY}`,
    SWITCHYARD_WORKER_METRICS_PORT: "0",
    SWITCHYARD_CARD_KEY: randomBytes(32).toString("hex"),
    SWITCHYARD_DATA_DIR: runDir("switchyard-test-"),
    SWITCHYARD_PSP_TIMEOUT_MS: "500",
    SANDBOX_SLOW_CARD_DELAY_MS: "1500",
    SWITCHYARD_REPLY_WAIT_MS: "8000",
    // Test receivers listen on http://127.0.0.1.
    SWITCHYARD_WEBHOOK_ALLOW_HTTP_LOOPBACK: "true",
    // The specs reach the read models', expiry's and webhooks' objects (platform.readModels, …), which
    // only exist in the process's own event loop (the default); on a thread of their own they have
    // their specs (test/e2e/projections-thread.e2e.spec.ts). TEST_PROJECTIONS=thread runs the suite so.
    SWITCHYARD_PROJECTIONS: process.env.TEST_PROJECTIONS ?? "on",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    ...overrides,
  };
}

export function merchantsOf(env: Record<string, string>): TestMerchant[] {
  return (env.SWITCHYARD_BOOTSTRAP_KEYS ?? "").split(",").map((pair) => {
    const [merchantId, key] = pair.split(":") as [string, string];
    return { merchantId, key };
  });
}

export async function startTestPlatform(
  opts: { env?: Record<string, string>; roles?: Role[]; log?: Logger } = {},
): Promise<TestPlatform> {
  const env = opts.env ?? testEnv();
  const config: Config = loadConfig(env);
  const platform = await startPlatform(config, {
    roles: new Set(opts.roles ?? ["sandbox", "worker", "gateway"]),
    log: opts.log ?? pino({ level: config.logLevel }),
  });
  const merchants = merchantsOf(env);
  const url = platform.url ?? "";
  return {
    ...platform,
    url,
    env,
    merchants,
    api: (m) => client(url, m.key),
    ops: opsClient(url, OPERATOR_KEY),
    async cleanup() {
      await platform.stop();
      await cleanupRun(env);
    },
  };
}

/** Delete the streams, Redis keys and data dir of a test run. */
export async function cleanupRun(env: Record<string, string>): Promise<void> {
  const prefix = env.SWITCHYARD_PREFIX ?? "";
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  await deleteTopology(jsm, topology(prefix, 1));
  // The KV buckets of the run (policies, ops board) are streams named KV_<prefix>_<bucket>.
  if (prefix)
    for await (const name of jsm.streams.names())
      if (name.startsWith(`KV_${prefix}_`)) await jsm.streams.delete(name).catch(() => undefined);
  await nc.close();
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await dropRunSchema(env);
  if (env.SWITCHYARD_DATA_DIR) rmSync(env.SWITCHYARD_DATA_DIR, { recursive: true, force: true });
}

/** Drop the run's read-model schema (named from the prefix, as config/env.ts does). */
export async function dropRunSchema(env: Record<string, string>): Promise<void> {
  const prefix = env.SWITCHYARD_PREFIX ?? "";
  if (prefix) await dropSchema(env.DATABASE_URL ?? DATABASE_URL, `sy_${prefix.toLowerCase()}`);
}

/** A row of the merchant's payment list (GET /v1/payments). */
export type ListedPayment = { id: string; status: string; captured_amount: number; refunded_amount: number };

/** The merchant's whole payment list, page after page. */
export async function listAllPayments(api: Api): Promise<ListedPayment[]> {
  const all: ListedPayment[] = [];
  for (let after: string | undefined; ;) {
    const res = await api.get(`/v1/payments?limit=100${after ? `&starting_after=${after}` : ""}`);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    const page = res.body as unknown as { data: ListedPayment[]; has_more: boolean };
    all.push(...page.data);
    if (!page.has_more || page.data.length === 0) return all;
    after = page.data[page.data.length - 1]!.id;
  }
}

export function client(baseUrl: string, key: string): Api {
  const call = async (method: string, path: string, body?: unknown, extra: Record<string, string> = {}) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body !== undefined && { "content-type": "application/json" }),
        ...extra,
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as ApiBody, headers: res.headers };
  };
  return {
    post: (path, body, idempotencyKey = randomBytes(8).toString("hex"), headers = {}) =>
      call("POST", path, body, { "idempotency-key": idempotencyKey, ...headers }),
    get: (path) => call("GET", path),
  };
}

/** An operator API answer; the caller names the body shape it expects (error bodies included). */
export type OpsResponse<T> = { status: number; body: T & { error?: { code: string; details?: unknown } } };
export type Ops = {
  get<T = Record<string, unknown>>(path: string): Promise<OpsResponse<T>>;
  post<T = Record<string, unknown>>(path: string, body?: unknown): Promise<OpsResponse<T>>;
  put<T = Record<string, unknown>>(path: string, body?: unknown): Promise<OpsResponse<T>>;
  delete<T = Record<string, unknown>>(path: string): Promise<OpsResponse<T>>;
};

export function opsClient(baseUrl: string, key: string): Ops {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<OpsResponse<T>> => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body !== undefined && { "content-type": "application/json" }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as OpsResponse<T>["body"] };
  };
  return {
    get: <T>(path: string) => call<T>("GET", path),
    post: <T>(path: string, body?: unknown) => call<T>("POST", path, body),
    put: <T>(path: string, body?: unknown) => call<T>("PUT", path, body),
    delete: <T>(path: string) => call<T>("DELETE", path),
  };
}

export const CARDS = {
  success: "4242424242424242",
  /** insufficient_funds: hard for cascading (another acquirer asks the same issuer). */
  hardDecline: "4000000000009995",
  /** do_not_honor: soft, cascades to the next PSP (which declines it too: same card). */
  softDecline: "4000000000000002",
  threeDS: "4000000000003220",
  slow: "4000000000000077",
} as const;

export function paymentBody(
  overrides: { number?: string; amount?: number; currency?: string; capture?: string } = {},
) {
  return {
    amount: overrides.amount ?? 2500,
    currency: overrides.currency ?? "EUR",
    capture: overrides.capture ?? "manual",
    payment_method: {
      type: "card",
      card: { number: overrides.number ?? CARDS.success, exp_month: 12, exp_year: 2030, cvc: "123" },
    },
    reference: "order-1",
  };
}

/** A call to the run's PSP sandbox: GET without a body, POST with a JSON one. */
export async function sandboxCall<T>(
  platform: Platform,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${platform.sandbox!.url}${path}`, {
    method: body === undefined ? "GET" : "POST",
    ...(body !== undefined && {
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/** The payment as its merchant reads it, once `ok` holds of it (waited for, never slept on). */
export function untilPayment(
  api: Api,
  id: string,
  what: string,
  ok: (p: PaymentView) => boolean,
  timeoutMs = 15_000,
): Promise<PaymentView> {
  return waitFor(
    async () => {
      const p = (await api.get(`/v1/payments/${id}`)).body;
      return ok(p) ? p : undefined;
    },
    { timeoutMs, what },
  );
}
