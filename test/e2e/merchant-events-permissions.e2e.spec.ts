// The platform under nats-server's own authorization (scripts/nats-auth.ts): a server on a free port
// with the generated users, and the gateway, worker and projector each a real process logged in as
// its own user (NATS_USER / NATS_PASSWORD), as the Procfile runs them. A payment is created, captured
// and partly refunded through the HTTP API; the server saw no permission violation by any platform
// user (its log names each), so each role's permissions hold what it does, nor while operators' doors
// that reach NATS from the gateway were used. An internal system for
// m_alpha then reads that payment's merchant events from PAY_OUT, as it is allowed to: the three
// events, the very bodies the webhooks deliver, each once.
import { expect } from "chai";
import { jetstream } from "@nats-io/jetstream";
import { createInbox, type NatsConnection } from "@nats-io/transport-node";
import { startGatewayProcess, type GatewayProcess } from "../support/cluster-roles.ts";
import { internalInboxPrefix } from "../../scripts/nats-auth.ts";
import { startAuthServer, type AuthServer } from "../support/nats-auth-server.ts";
import {
  cleanupRun,
  client,
  merchantsOf,
  OPERATOR_KEY,
  opsClient,
  paymentBody,
  startTestPlatform,
  testEnv,
  type TestPlatform,
} from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";
import { runSql } from "../support/webhooks.ts";
import { startProjectorProcess, startWorkerProcess, type WorkerProcess } from "../support/worker-process.ts";
import { merchantEventSubject, topology } from "../../streams/topology.ts";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { runService, serviceDir } from "../support/client-service.ts";
import { EVT_SEQ_HEADER } from "../../actors/webhooks/merchant-feed.ts";

describe("the platform under per-role NATS permissions, read by an internal system (e2e)", function () {
  this.timeout(120_000);
  let server: AuthServer;
  let sandbox: TestPlatform;
  let env: Record<string, string>;
  const roles: WorkerProcess[] = [];
  let gateway: GatewayProcess | undefined;
  let internal: NatsConnection | undefined;

  before(async () => {
    env = testEnv({ SWITCHYARD_PROJECTIONS: "off", SWITCHYARD_PROJECTOR_METRICS_PORT: "0" });
    const prefix = env.SWITCHYARD_PREFIX!;
    server = await startAuthServer({ prefix, internal: [{ user: "billing", merchants: ["m_alpha"] }] });
    sandbox = await startTestPlatform({ env, roles: ["sandbox"] });
    const as = (user: string) => ({
      ...env,
      NATS_URL: server.url,
      NATS_USER: user,
      NATS_PASSWORD: server.password(user),
      SANDBOX_URL: sandbox.sandbox!.url,
    });
    const worker = startWorkerProcess(as("worker"));
    const projector = startProjectorProcess(as("projector"));
    roles.push(worker, projector);
    gateway = startGatewayProcess(as("gateway"));
    await Promise.all([worker.ready, projector.ready, gateway.ready]);
  });

  after(async () => {
    await internal?.close();
    gateway?.kill();
    for (const r of roles) r.kill();
    await Promise.all([...roles.map((r) => r.exited), gateway?.exited]);
    await sandbox?.stop();
    await server?.stop();
    if (env) await cleanupRun(env);
  });

  it("takes a payment through create, capture and refund with no permission violation", async () => {
    const url = await gateway!.ready;
    const api = client(url, merchantsOf(env)[0]!.key);
    const created = await api.post("/v1/payments", paymentBody({ amount: 2500 }));
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const id = created.body.id;
    expect((await api.post(`/v1/payments/${id}/capture`, {})).status).to.equal(200);
    const refund = await api.post(`/v1/payments/${id}/refunds`, { amount: 1000 });
    expect(refund.status, JSON.stringify(refund.body)).to.equal(200);
    // Operators' doors that reach NATS from the gateway: readiness (JetStream account info), the
    // cluster view (members and leases buckets), dead letters, policies, a merchant created (the
    // merchants bucket and the audit stream) and the audit trail.
    const ops = opsClient(url, OPERATOR_KEY);
    expect((await fetch(`${url}/readyz`)).status).to.equal(200);
    for (const path of ["/ops/cluster", "/ops/dead-letters", "/ops/policies", "/ops/merchants"])
      expect((await ops.get(path)).status, path).to.equal(200);
    const merchant = await ops.post("/ops/merchants", { name: "Permissions Ltd" });
    expect(merchant.status, JSON.stringify(merchant.body)).to.equal(201);
    expect((await ops.get("/ops/audit")).status).to.equal(200);
    expect(server.violations().filter((l) => /User "(gateway|worker|projector)"/.test(l))).to.deep.equal([]);

    // The internal system for m_alpha reads this payment's merchant events (its own filter).
    const t = topology(env.SWITCHYARD_PREFIX!, 1);
    internal = await server.connectAs("billing");
    const js = jetstream(internal);
    // An ordered push consumer to its own inbox (no STREAM.INFO, no pulls: docs/nats-permissions.md).
    const subject = merchantEventSubject(t, "m_alpha", id);
    const consumer = await js.consumers.getPushConsumer(t.merchantEventStream, {
      filter_subjects: subject,
      deliver_prefix: createInbox(internalInboxPrefix("billing")),
    });
    const got: Array<{ id: string; type: string; subject: string; msgId: string; body: string }> = [];
    const types = ["payment.authorized", "payment.captured", "refund.succeeded"];
    const messages = await consumer.consume();
    const reading = (async () => {
      for await (const m of messages) {
        const body = m.json<{ id: string; type: string }>();
        got.push({
          ...body,
          subject: m.subject,
          msgId: m.headers?.get("Nats-Msg-Id") ?? "",
          body: m.string(),
        });
        expect(m.headers?.get(EVT_SEQ_HEADER)).to.match(/^\d+$/);
      }
    })();
    try {
      await waitFor(() => got.length >= types.length, {
        timeoutMs: 20_000,
        what: "the payment's three merchant events on PAY_OUT",
      });
    } finally {
      messages.stop();
      await reading;
    }
    expect(got.map((g) => g.type)).to.deep.equal(types);
    for (const g of got) {
      expect(g.subject).to.equal(merchantEventSubject(t, "m_alpha", id));
      expect(g.msgId).to.equal(g.id);
    }
    // The bodies are the webhook bodies, stored by the dispatcher (what GET /v1/events serves).
    const sql = runSql(env);
    try {
      const rows = await sql<{ id: string; body: string }[]>`
        select id, body::text as body from webhook_events where payment_id = ${id} order by seq, idx`;
      expect(got.map((g) => [g.id, g.body])).to.deep.equal(rows.map((r) => [r.id, r.body]));
    } finally {
      await sql.end({ timeout: 1 });
    }
    // No more than those: a fourth message would be a duplicate. A new consumer says how many the
    // stream holds for the payment.
    const again = await js.consumers.getPushConsumer(t.merchantEventStream, {
      filter_subjects: subject,
      deliver_prefix: createInbox(internalInboxPrefix("billing")),
    });
    expect((await again.info(true)).num_pending).to.equal(types.length);
    // And its reading did not trip the server either.
    expect(server.violations()).to.deep.equal([]);
  });

  it("lets an internal service in its own process, with only switchyard/client and its user, pay and read its events; the server refuses it another merchant", async () => {
    const url = await gateway!.ready;
    const [alpha, beta] = merchantsOf(env);
    const dir = serviceDir();
    try {
      const { code, lines, stderr } = await runService(dir, {
        NATS_URL: server.url,
        NATS_USER: "billing",
        NATS_PASSWORD: server.password("billing"),
        NATS_INBOX_PREFIX: "_INBOX_billing",
        SWITCHYARD_PREFIX: env.SWITCHYARD_PREFIX!,
        SWITCHYARD_PARTITIONS: env.SWITCHYARD_PARTITIONS!,
        MERCHANT_ID: alpha!.merchantId,
        FORBIDDEN_MERCHANT_ID: beta!.merchantId,
        GATEWAY_URL: url,
        API_KEY: alpha!.key,
        CARD_NUMBER: "4242424242424242",
        IDEMPOTENCY_KEY: randomBytes(8).toString("hex"),
        EXPECT_EVENTS: "payment.authorized,payment.captured,refund.succeeded",
      });
      expect(code, `${stderr}\n${JSON.stringify(lines)}`).to.equal(0);
      const step = (s: string) => lines.find((l) => l.step === s);
      expect(step("created")).to.deep.include({ result: "settled", status: "authorized" });
      expect(step("refunded")).to.deep.include({ status: "partially_refunded", refunded: 1000 });
      expect(step("events")?.types).to.deep.equal([
        "payment.authorized",
        "payment.captured",
        "refund.succeeded",
      ]);
      // Acting for m_beta: the server refused the publish (the client answers service_unavailable).
      expect(step("forbidden")).to.deep.include({ error: "service_unavailable" });
      const refused = server.violations();
      expect(
        refused.some(
          (l) => /User "billing"/.test(l) && l.includes(`.pay.cmd.`) && l.includes(beta!.merchantId),
        ),
        refused.join("\n"),
      ).to.equal(true);
      // Nothing else it did tripped the server, and no platform user was refused anything.
      expect(refused.filter((l) => !l.includes(beta!.merchantId))).to.deep.equal([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
