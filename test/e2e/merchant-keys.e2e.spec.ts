// Merchants, API keys and operator roles end to end: operators create merchants and keys over /ops,
// merchants pay over /v1 with them, and a revoke reaches a second gateway on the same prefix through
// the KV watch, with no restart. Everything real (HTTP, NATS KV, Redis, sandbox); logs captured to
// prove the key is written nowhere but in the one answer that issues it.
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { loadConfig } from "../../config/env.ts";
import { startPlatform, type Platform } from "../../scripts/platform.ts";
import { merchantBucketName } from "../../streams/merchant-keys.ts";
import { NATS_URL } from "../support/infra.ts";
import { capturingLogger } from "../support/log-capture.ts";
import {
  cleanupRun,
  client,
  merchantsOf,
  OPERATOR_KEY,
  opsClient,
  paymentBody,
  testEnv,
  type Ops,
} from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";

const VIEWER_KEY = `op_view_${randomBytes(16).toString("hex")}`;
const FIXER_KEY = `op_fix_${randomBytes(16).toString("hex")}`;

type Key = {
  key_id: string;
  key?: string;
  prefix: string;
  scopes: string[];
  expires_at: string | null;
  status: string;
};
type ErrorOf = { error: { code: string; message: string; details: Record<string, unknown> } };

describe("merchants, API keys and operator roles (e2e)", function () {
  this.timeout(60_000);
  const env = testEnv({
    SWITCHYARD_OPERATOR_KEYS: `ops:${OPERATOR_KEY},vera:${VIEWER_KEY}:viewer,otto:${FIXER_KEY}:operator`,
    LOG_LEVEL: "debug",
  });
  const { log, lines } = capturingLogger("debug");
  let main: Platform;
  let second: Platform;
  let ops: Ops;
  const issued: string[] = [];

  before(async () => {
    main = await startPlatform(loadConfig(env), { roles: new Set(["sandbox", "worker", "gateway"]), log });
    // A second gateway on the same prefix, as another machine would run it.
    second = await startPlatform(loadConfig({ ...env, SANDBOX_URL: main.sandbox?.url ?? "" }), {
      roles: new Set(["gateway"]),
      log,
    });
    ops = opsClient(main.url ?? "", OPERATOR_KEY);
  });

  after(async () => {
    await second?.stop();
    await main?.stop();
    await cleanupRun(env);
  });

  async function newMerchant(): Promise<string> {
    const res = await ops.post<{ id: string }>("/ops/merchants", { name: "Corner Shop" });
    expect(res.status).to.equal(201);
    return res.body.id;
  }

  async function newKey(merchantId: string, body: Record<string, unknown>): Promise<Key & { key: string }> {
    const res = await ops.post<Key>(`/ops/merchants/${merchantId}/keys`, body);
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body.key).to.match(/^sk_live_[0-9a-f]{64}$/);
    issued.push(res.body.key!);
    return res.body as Key & { key: string };
  }

  it("creates a merchant, and refuses a second one with the same id", async () => {
    const id = `m_${randomBytes(4).toString("hex")}`;
    const created = await ops.post<{ id: string; name: string }>("/ops/merchants", { id, name: "Bakery" });
    expect(created.status).to.equal(201);
    expect(created.body).to.include({ id, name: "Bakery" });
    const again = await ops.post<ErrorOf>("/ops/merchants", { id, name: "Bakery" });
    expect(again.status).to.equal(409);
    expect(again.body.error.code).to.equal("merchant_exists");
    const list = await ops.get<{ merchants: Array<{ id: string }> }>("/ops/merchants");
    expect(list.body.merchants.map((m) => m.id)).to.include.members([id, "m_alpha", "m_beta"]);
  });

  it("holds a key to its scopes: a read-only key reads but cannot pay (403 insufficient_scope)", async () => {
    const merchantId = await newMerchant();
    const full = client(
      main.url ?? "",
      (await newKey(merchantId, { scopes: ["payments:write", "payments:read"] })).key,
    );
    const paid = await full.post("/v1/payments", paymentBody());
    expect(paid.status).to.be.oneOf([201, 202]);

    const readOnly = await newKey(merchantId, { scopes: ["payments:read"] });
    expect(readOnly.prefix).to.equal(readOnly.key.slice(0, 12));
    const reader = client(main.url ?? "", readOnly.key);
    expect((await reader.get(`/v1/payments/${paid.body.id}`)).status).to.equal(200);
    const refused = await reader.post("/v1/payments", paymentBody());
    expect(refused.status).to.equal(403);
    expect(refused.body.error.code).to.equal("insufficient_scope");
    expect(refused.body.error.details).to.deep.equal({ missing_scope: "payments:write" });
    const refund = await full.post(`/v1/payments/${paid.body.id}/refunds`, { amount: 100 });
    expect(refund.status).to.equal(403);
    expect(refund.body.error.details).to.deep.equal({ missing_scope: "refunds:write" });
  });

  it("revokes a key on every gateway within a second, with no restart", async () => {
    const merchantId = await newMerchant();
    const k = await newKey(merchantId, { scopes: ["payments:read"] });
    const onMain = client(main.url ?? "", k.key);
    const onSecond = client(second.url ?? "", k.key);
    // The second gateway learns of the new key through the watch too.
    await waitFor(async () => (await onSecond.get("/v1/payments/pay_unknown")).status === 404, {
      timeoutMs: 1_000,
      what: "the second gateway to accept the new key",
    });

    const revoked = await ops.delete<Key>(`/ops/merchants/${merchantId}/keys/${k.key_id}`);
    expect(revoked.status).to.equal(200);
    expect(revoked.body.status).to.equal("revoked");
    const started = Date.now();
    for (const [name, api] of [
      ["main", onMain],
      ["second", onSecond],
    ] as const) {
      const res = await waitFor(
        async () => {
          const r = await api.get("/v1/payments/pay_unknown");
          return r.status === 401 && r;
        },
        { timeoutMs: 1_000, what: `the ${name} gateway to refuse the revoked key` },
      );
      expect(res.body.error.message).to.equal("key revoked");
    }
    expect(Date.now() - started).to.be.below(1_000);
    const unknown = await ops.delete<ErrorOf>(`/ops/merchants/${merchantId}/keys/key_0000000000000000`);
    expect(unknown.status).to.equal(404);
    expect(unknown.body.error.code).to.equal("key_not_found");
  });

  it("refuses an expired key with 401 key expired", async () => {
    const merchantId = await newMerchant();
    const k = await newKey(merchantId, {
      scopes: ["payments:read"],
      expires_at: new Date(Date.now() + 1_000).toISOString(),
    });
    const api = client(main.url ?? "", k.key);
    const res = await waitFor(
      async () => {
        const r = await api.get("/v1/payments/pay_unknown");
        return r.status === 401 && r;
      },
      { timeoutMs: 3_000, what: "the key to expire" },
    );
    expect(res.body.error.message).to.equal("key expired");
    const detail = await ops.get<{ keys: Key[] }>(`/ops/merchants/${merchantId}`);
    expect(detail.body.keys.map((x) => x.status)).to.deep.equal(["expired"]);
  });

  it("shows the key once: never in GET /ops/merchants/{id}, the logs nor the bucket", async () => {
    const merchantId = await newMerchant();
    const k = await newKey(merchantId, { scopes: ["payments:read", "webhooks:manage"] });
    const detail = await ops.get<{ keys: Array<Key & { hash?: string }> }>(`/ops/merchants/${merchantId}`);
    expect(detail.status).to.equal(200);
    expect(detail.body.keys).to.have.length(1);
    expect(detail.body.keys[0]).to.include({ key_id: k.key_id, prefix: k.prefix, status: "active" });
    expect(detail.body.keys[0]).not.to.have.any.keys("key", "hash");
    expect(JSON.stringify(detail.body)).not.to.include(k.key);

    const everyKey = [...issued, ...merchantsOf(env).map((m) => m.key)];
    const logged = lines.join("");
    expect(logged).to.include("merchant_key.create");
    for (const key of everyKey) expect(logged).not.to.include(key.slice(12));

    const nc = await connect({ servers: NATS_URL });
    try {
      const jsm = await jetstreamManager(nc);
      const stream = `KV_${merchantBucketName(env.SWITCHYARD_PREFIX ?? "")}`;
      const { state } = await jsm.streams.info(stream);
      let stored = "";
      for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
        const msg = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
        if (msg) stored += msg.string();
      }
      expect(stored).to.include(k.key_id);
      for (const key of everyKey) expect(stored).not.to.include(key.slice(12));
    } finally {
      await nc.close();
    }
  });

  it("keeps the bootstrap keys working, with every scope", async () => {
    const [alpha] = merchantsOf(env);
    const api = client(main.url ?? "", alpha!.key);
    const paid = await api.post("/v1/payments", paymentBody({ capture: "automatic" }));
    expect(paid.status).to.be.oneOf([201, 202]);
    const detail = await ops.get<{ keys: Key[] }>("/ops/merchants/m_alpha");
    expect(detail.body.keys).to.have.length(1);
    expect(detail.body.keys[0]!.scopes).to.have.members([
      "payments:read",
      "payments:write",
      "refunds:write",
      "webhooks:manage",
    ]);
    expect(detail.body.keys[0]!.prefix).to.equal(alpha!.key.slice(0, 12));
  });

  it("gives a viewer reads only: 403 insufficient_role on a change", async () => {
    const viewer = opsClient(main.url ?? "", VIEWER_KEY);
    expect((await viewer.get("/ops/psps")).status).to.equal(200);
    expect((await viewer.get("/ops/merchants")).status).to.equal(200);
    const out = await viewer.post<ErrorOf>("/ops/psps/acme/out", {});
    expect(out.status).to.equal(403);
    expect(out.body.error.code).to.equal("insufficient_role");
    expect(out.body.error.details).to.deep.equal({ required: "admin", role: "viewer" });
    const redrive = await viewer.post<ErrorOf>("/ops/dead-letters/1/redrive");
    expect(redrive.body.error.details).to.deep.equal({ required: "operator", role: "viewer" });
  });

  it("lets an operator fix (redrive, resolve) but not change policies, PSPs or keys", async () => {
    const fixer = opsClient(main.url ?? "", FIXER_KEY);
    // Past the role check: the dead letter and the exception do not exist.
    expect((await fixer.post<ErrorOf>("/ops/dead-letters/999999/redrive")).body.error.code).to.equal(
      "dead_letter_not_found",
    );
    const resolve = await fixer.post<ErrorOf>("/ops/reconciliation/exceptions/999999/resolve", {
      resolution: "written_off",
      note: "n/a",
    });
    expect(resolve.body.error.code).not.to.equal("insufficient_role");
    expect(resolve.status).to.be.oneOf([400, 404]);
    for (const [path, body] of [
      ["/ops/policies/routing/rollback", {}],
      ["/ops/psps/acme/out", {}],
      ["/ops/merchants", { name: "x" }],
    ] as const) {
      const res = await fixer.post<ErrorOf>(path, body);
      expect(res.status, path).to.equal(403);
      expect(res.body.error.details).to.deep.equal({ required: "admin", role: "operator" });
    }
  });

  it("answers bad bodies with 4xx codes, never a 500", async () => {
    const merchantId = await newMerchant();
    const cases: Array<[string, unknown, number, string]> = [
      [`/ops/merchants/${merchantId}/keys`, { scopes: ["payments:delete"] }, 400, "validation_error"],
      [`/ops/merchants/${merchantId}/keys`, { scopes: [] }, 400, "validation_error"],
      [
        `/ops/merchants/${merchantId}/keys`,
        { scopes: ["payments:read"], expires_at: "tomorrow" },
        400,
        "validation_error",
      ],
      [
        `/ops/merchants/${merchantId}/keys`,
        { scopes: ["payments:read"], expires_at: "2001-01-01T00:00:00Z" },
        400,
        "validation_error",
      ],
      ["/ops/merchants/nobody/keys", { scopes: ["payments:read"] }, 404, "merchant_not_found"],
      ["/ops/merchants", { name: "n".repeat(201) }, 400, "validation_error"],
      ["/ops/merchants", { name: "" }, 400, "validation_error"],
      ["/ops/merchants", { id: "bad id!", name: "x" }, 400, "validation_error"],
      ["/ops/merchants", { name: "x", extra: 1 }, 400, "validation_error"],
      ["/ops/merchants", { id: merchantId, name: "again" }, 409, "merchant_exists"],
    ];
    for (const [path, body, status, code] of cases) {
      const res = await ops.post<ErrorOf>(path, body);
      expect(res.status, `${path} ${JSON.stringify(body)}`).to.equal(status);
      expect(res.body.error.code).to.equal(code);
    }
    const missing = await ops.get<ErrorOf>("/ops/merchants/nobody");
    expect(missing.status).to.equal(404);
    expect(missing.body.error.code).to.equal("merchant_not_found");
  });
});
