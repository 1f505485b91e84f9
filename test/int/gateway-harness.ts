// A gateway listening on a random port, wired to a real CommandBus on the real NATS under a random
// topology prefix. No worker runs: a test may play the actor by answering the command's reply
// inbox, and controls what the payment reader returns. Every log line is captured.
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import type { FastifyInstance } from "fastify";
import type { PaymentView } from "../../actors/payment/core/view.ts";
import { ACME_CAPABILITIES } from "../../actors/psp/acme.ts";
import { BOLT_CAPABILITIES } from "../../actors/psp/bolt.ts";
import { buildGateway } from "../../gateway/app.ts";
import { hashKey, MerchantAuth } from "../../gateway/auth.ts";
import { CommandBus } from "../../streams/command-bus.ts";
import { CommandEnvelope, type CommandReply } from "../../actors/payment/core/wire.ts";
import { Header, decodeJson, encode } from "../../streams/envelopes.ts";
import { createMetrics, type Metrics } from "../../config/metrics.ts";
import { deleteTopology, ensureTopology, topology, type Topology } from "../../streams/topology.ts";
import { capturingLogger } from "../support/log-capture.ts";

export const MERCHANTS = {
  alpha: { merchantId: "m_alpha", key: `sk_test_${randomBytes(16).toString("hex")}` },
  beta: { merchantId: "m_beta", key: `sk_test_${randomBytes(16).toString("hex")}` },
} as const;

/** What the sandbox PSPs declare: the gateway refuses currencies neither takes. */
export const PSP_CAPABILITIES = new Map([
  ["acme", ACME_CAPABILITIES],
  ["bolt", BOLT_CAPABILITIES],
]);

export type Responder = (envelope: CommandEnvelope) => CommandReply | undefined;

export type CallOptions = {
  key?: string | null;
  idem?: string | null;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
};

export type Harness = {
  url: string;
  nc: NatsConnection;
  jsm: JetStreamManager;
  topo: Topology;
  cardKey: Buffer;
  app: FastifyInstance;
  /** What the payment reader returns, by payment id. */
  views: Map<string, PaymentView>;
  /** The stand-in actor: undefined means no reply ever comes. */
  actor: { respond: Responder | undefined };
  readiness: { redis: "ok" | "fail" | "hang" };
  logs: string[];
  call(method: string, path: string, opts?: CallOptions): Promise<Response>;
  close(): Promise<void>;
};

export type HarnessOptions = {
  replyWaitMs?: number;
  /** Publish to a topology that was never created: every publish fails, as when JetStream is down. */
  busWithoutStreams?: boolean;
  /** The registry /metrics serves; a fresh one without default metrics when absent. */
  metrics?: Metrics;
  /** The gateway's request (body) timeout; its default is 10 s. */
  requestTimeoutMs?: number;
};

export async function startGateway(opts: HarnessOptions = {}): Promise<Harness> {
  const nc = await connect({ servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222" });
  const jsm = await jetstreamManager(nc);
  const topo = topology(`t${randomBytes(6).toString("hex")}`, 4);
  await ensureTopology(jsm, topo);

  const { log, lines: logs } = capturingLogger();
  const busTopo = opts.busWithoutStreams ? topology(`t${randomBytes(6).toString("hex")}`, 4) : topo;
  const bus = new CommandBus(nc, jetstream(nc, { timeout: 1_000 }), busTopo, log);
  bus.start();

  const actor: Harness["actor"] = { respond: undefined };
  const actorSub = nc.subscribe(`${topo.commandBase}.>`, {
    callback: (err, msg) => {
      const replyTo = msg.headers?.get(Header.replyTo);
      if (err || !replyTo || !actor.respond) return;
      const reply = actor.respond(CommandEnvelope.parse(decodeJson(msg.data)));
      if (reply) nc.publish(replyTo, encode(reply));
    },
  });

  const views = new Map<string, PaymentView>();
  const readiness: Harness["readiness"] = { redis: "ok" };
  const cardKey = randomBytes(32);
  const app = await buildGateway({
    bus,
    payments: { get: (id) => Promise.resolve(views.get(id)) },
    auth: new MerchantAuth(
      Object.values(MERCHANTS).map((m) => ({ merchantId: m.merchantId, keyHash: hashKey(m.key) })),
    ),
    cardKey,
    replyWaitMs: opts.replyWaitMs ?? 200,
    readiness: [
      { name: "nats", check: () => nc.flush() },
      {
        name: "redis",
        check: async () => {
          if (readiness.redis === "fail") throw new Error("connection refused");
          if (readiness.redis === "hang") await new Promise((r) => setTimeout(r, 1_500));
        },
      },
    ],
    metrics: opts.metrics ?? createMetrics(),
    log,
    pspCapabilities: PSP_CAPABILITIES,
    ...(opts.requestTimeoutMs !== undefined && { requestTimeoutMs: opts.requestTimeoutMs }),
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

  return {
    url,
    nc,
    jsm,
    topo,
    cardKey,
    app,
    views,
    actor,
    readiness,
    logs,
    call(method, path, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      const key = opts.key === undefined ? MERCHANTS.alpha.key : opts.key;
      if (key !== null) headers.authorization = `Bearer ${key}`;
      const idem = opts.idem === undefined ? randomBytes(8).toString("hex") : opts.idem;
      if (idem !== null && method !== "GET") headers["idempotency-key"] = idem;
      let body: string | undefined = opts.rawBody;
      if (opts.body !== undefined) body = JSON.stringify(opts.body);
      if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type"))
        headers["content-type"] = "application/json";
      return fetch(`${url}${path}`, { method, headers, ...(body !== undefined && { body }) });
    },
    async close() {
      await app.close();
      actorSub.unsubscribe();
      await bus.close();
      await deleteTopology(jsm, topo);
      await nc.drain();
    },
  };
}

export const PAN = "4242424242424242";

export function validCreateBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    amount: 1250,
    currency: "EUR",
    payment_method: {
      type: "card",
      card: { number: PAN, exp_month: 12, exp_year: new Date().getUTCFullYear() + 3, cvc: "123" },
    },
    reference: "order-1",
    metadata: { cart: "c-9" },
    ...overrides,
  };
}

/** A payment view as a worker would render it, for the reader or a stand-in actor reply. */
export function viewOf(
  id: string,
  merchantId: string | undefined,
  status: PaymentView["status"] = "authorized",
): PaymentView {
  const at = new Date().toISOString();
  return {
    id,
    object: "payment",
    merchant_id: merchantId ?? "",
    status,
    amount: 1250,
    currency: "EUR",
    captured_amount: 0,
    refunded_amount: 0,
    settlements: [],
    disputes: [],
    capture: "manual",
    psp: "sandbox_a",
    expected_fee: null,
    routing: null,
    attempts: [
      {
        attempt: 1,
        psp: "sandbox_a",
        status: "authorized",
        psp_reference: "ch_1",
        code: null,
        class: null,
        trigger: "routed",
        expected_fee: null,
        created_at: at,
      },
    ],
    operations: [],
    card: { brand: "visa", last4: "4242", bin_country: "US", exp_month: 12, exp_year: 2030 },
    next_action: null,
    decline_code: null,
    failure_code: null,
    reference: null,
    metadata: {},
    created_at: at,
    updated_at: at,
  };
}

export type ErrorJson = {
  error: {
    code: string;
    message: string;
    details: { issues?: Array<{ in: string; path: string; message: string }> };
  };
};

/** Asserts the status, the code and the error body's shape, and that no card number leaked into it. */
export async function errorOf(res: Response, status: number, code: string): Promise<ErrorJson> {
  const text = await res.text();
  expect(res.status, text).to.equal(status);
  expect(text).not.to.include(PAN);
  const body = JSON.parse(text) as ErrorJson;
  expect(body.error.code).to.equal(code);
  expect(body.error.message).to.be.a("string").and.not.be.empty;
  expect(body.error.details).to.be.an("object");
  return body;
}
