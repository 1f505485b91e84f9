// Merchants' webhook endpoints over the real gateway (HTTP, PostgreSQL, NATS for the audit trail):
// the secret is answered once and is nowhere else in clear (not in GET, not in the logs, not in the
// row), rotation keeps the old secret for the grace period (judged with an injected clock), a
// merchant never sees another's endpoints, the scope is enforced, and hostile input is a 4xx with
// a machine-readable code, never a 500.
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import postgres from "postgres";
import { rebuildReadModels } from "../../actors/readmodels.ts";
import {
  MAX_ENDPOINTS_PER_MERCHANT,
  signingSecrets,
  type WebhookEndpointRow,
} from "../../actors/webhooks/endpoints.ts";
import { DATABASE_URL } from "../support/infra.ts";
import { capturingLogger } from "../support/log-capture.ts";
import { startTestPlatform, testEnv, type TestPlatform } from "../support/platform.ts";

type Endpoint = {
  id: string;
  object: string;
  url: string;
  description: string | null;
  enabled_events: string[];
  disabled: boolean;
  disabled_reason: string | null;
  failing_since: string | null;
  previous_secret_expires_at: string | null;
  secret?: string;
  deleted?: boolean;
  data?: Endpoint[];
  error?: { code: string; message: string; details: Record<string, unknown> };
};
type Answer = { status: number; body: Endpoint };

const HOOK = "https://hooks.example.com/switchyard";

describe("webhook endpoints (e2e)", function () {
  this.timeout(60_000);
  const env = testEnv({ LOG_LEVEL: "debug", SWITCHYARD_WEBHOOK_SECRET_GRACE: "1h" });
  const { log, lines } = capturingLogger("debug");
  let p: TestPlatform;
  let sql: postgres.Sql;
  let alpha: string;
  let beta: string;
  const secrets: string[] = [];

  before(async () => {
    p = await startTestPlatform({ env, roles: ["sandbox", "gateway"], log });
    alpha = p.merchants[0]!.key;
    beta = p.merchants[1]!.key;
    sql = postgres(DATABASE_URL, {
      max: 2,
      onnotice: () => undefined,
      connection: { search_path: p.config.database.schema },
    });
  });
  after(async () => {
    await sql?.end({ timeout: 1 });
    await p?.cleanup();
  });

  async function call(
    key: string,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    const res = await fetch(`${p.url}/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body !== undefined && { "content-type": "application/json" }),
        ...(method === "POST" && { "idempotency-key": randomBytes(8).toString("hex") }),
        ...headers,
      },
      ...(body !== undefined && { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    const parsed = (text ? JSON.parse(text) : {}) as Endpoint;
    if (typeof parsed.secret === "string") secrets.push(parsed.secret);
    return { status: res.status, body: parsed };
  }

  async function create(key = alpha, body: Record<string, unknown> = {}): Promise<Endpoint> {
    const res = await call(key, "POST", "/webhook_endpoints", {
      url: HOOK,
      enabled_events: ["payment.captured", "refund.succeeded"],
      ...body,
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body;
  }

  const rowOf = async (id: string) =>
    (await sql<WebhookEndpointRow[]>`select * from webhook_endpoints where id = ${id}`)[0]!;

  it("creates an endpoint and answers its Standard Webhooks secret once", async () => {
    const created = await create(alpha, { description: "orders" });
    expect(created).to.deep.include({
      object: "webhook_endpoint",
      url: HOOK,
      description: "orders",
      enabled_events: ["payment.captured", "refund.succeeded"],
      disabled: false,
    });
    expect(created.id).to.match(/^we_[0-9a-f]{24}$/);
    expect(created.secret).to.match(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(created.secret!.slice(6), "base64")).to.have.length(32);

    const got = await call(alpha, "GET", `/webhook_endpoints/${created.id}`);
    expect(got.status).to.equal(200);
    expect(got.body).not.to.have.property("secret");
    const list = await call(alpha, "GET", "/webhook_endpoints");
    expect(list.body.data!.map((e) => e.id)).to.include(created.id);
    expect(JSON.stringify(list.body)).not.to.include("whsec_");

    // Stored sealed only: the row holds no secret in clear, and opens with the card key.
    const row = await rowOf(created.id);
    expect(JSON.stringify(row)).not.to.include(created.secret!.slice(6));
    expect(row.secret_sealed).to.match(/^v2\.[0-9a-f]{8}\./);
    const keys = [Buffer.from(env.SWITCHYARD_CARD_KEY!, "hex")];
    expect(signingSecrets(row, keys, new Date())).to.deep.equal([created.secret]);
  });

  it("repeating a create with its Idempotency-Key makes no second endpoint", async () => {
    const body = { url: `${HOOK}/idem`, enabled_events: ["*"] };
    const headers = { "idempotency-key": `click-${randomBytes(4).toString("hex")}` };
    const first = await call(alpha, "POST", "/webhook_endpoints", body, headers);
    const again = await call(alpha, "POST", "/webhook_endpoints", body, headers);
    expect([first.status, again.status]).to.deep.equal([201, 201]);
    expect(again.body.id).to.equal(first.body.id);
    expect(again.body.secret).to.equal(first.body.secret);
    const other = await call(alpha, "POST", "/webhook_endpoints", { ...body, url: `${HOOK}/x` }, headers);
    expect(other.status).to.equal(422);
    expect(other.body.error?.code).to.equal("idempotency_key_reused");
    const missing = await fetch(`${p.url}/v1/webhook_endpoints`, {
      method: "POST",
      headers: { authorization: `Bearer ${alpha}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(missing.status).to.equal(400);
  });

  it("updates, disables, re-enables (forgetting why) and deletes", async () => {
    const e = await create();
    const patched = await call(alpha, "PATCH", `/webhook_endpoints/${e.id}`, {
      url: "https://other.example.com/h",
      enabled_events: ["payment.disputed"],
      description: null,
    });
    expect(patched.status, JSON.stringify(patched.body)).to.equal(200);
    expect(patched.body).to.deep.include({
      url: "https://other.example.com/h",
      enabled_events: ["payment.disputed"],
      description: null,
    });
    // The platform disables a failing endpoint (the sender does, actors/webhooks/store.ts); the
    // merchant's re-enable clears the reason.
    await sql`update webhook_endpoints set failing_since = ${new Date("2030-01-01T00:00:00Z")},
      disabled = true, disabled_reason = 'failing since 2030-01-01T00:00:00Z' where id = ${e.id}`;
    const disabled = await call(alpha, "GET", `/webhook_endpoints/${e.id}`);
    expect(disabled.body).to.deep.include({
      disabled: true,
      disabled_reason: "failing since 2030-01-01T00:00:00Z",
    });
    expect(disabled.body.failing_since).to.equal("2030-01-01T00:00:00.000Z");
    const enabled = await call(alpha, "PATCH", `/webhook_endpoints/${e.id}`, { disabled: false });
    expect(enabled.body).to.deep.include({ disabled: false, disabled_reason: null, failing_since: null });

    const deleted = await call(alpha, "DELETE", `/webhook_endpoints/${e.id}`);
    expect(deleted.body).to.deep.equal({ id: e.id, object: "webhook_endpoint", deleted: true });
    expect((await call(alpha, "GET", `/webhook_endpoints/${e.id}`)).status).to.equal(404);
    expect((await call(alpha, "DELETE", `/webhook_endpoints/${e.id}`)).status).to.equal(404);
  });

  it("rotates the secret and keeps the old one valid until the grace ends", async () => {
    const e = await create();
    const before = Date.now();
    const rotated = await call(alpha, "POST", `/webhook_endpoints/${e.id}/rotate_secret`);
    expect(rotated.status, JSON.stringify(rotated.body)).to.equal(200);
    expect(rotated.body.secret)
      .to.match(/^whsec_/)
      .and.not.equal(e.secret);
    const expires = Date.parse(rotated.body.previous_secret_expires_at!);
    expect(expires - before).to.be.within(3_600_000 - 5_000, 3_600_000 + 5_000);
    const got = await call(alpha, "GET", `/webhook_endpoints/${e.id}`);
    expect(got.body.previous_secret_expires_at).to.equal(rotated.body.previous_secret_expires_at);
    expect(got.body).not.to.have.property("secret");

    const row = await rowOf(e.id);
    const keys = [Buffer.from(env.SWITCHYARD_CARD_KEY!, "hex")];
    expect(signingSecrets(row, keys, new Date(expires - 1))).to.deep.equal([rotated.body.secret, e.secret]);
    expect(signingSecrets(row, keys, new Date(expires + 1))).to.deep.equal([rotated.body.secret]);
    for (const s of [e.secret!, rotated.body.secret!]) expect(JSON.stringify(row)).not.to.include(s.slice(6));
  });

  it("a repeated rotation (same Idempotency-Key) answers the same secret and keeps the old one", async () => {
    const e = await create();
    const headers = { "idempotency-key": `rot-${randomBytes(4).toString("hex")}` };
    const a = await call(alpha, "POST", `/webhook_endpoints/${e.id}/rotate_secret`, undefined, headers);
    const b = await call(alpha, "POST", `/webhook_endpoints/${e.id}/rotate_secret`, undefined, headers);
    expect(b.body.secret).to.equal(a.body.secret);
    const keys = [Buffer.from(env.SWITCHYARD_CARD_KEY!, "hex")];
    expect(signingSecrets(await rowOf(e.id), keys, new Date())).to.deep.equal([a.body.secret, e.secret]);
  });

  it("answers another merchant's endpoint exactly like an unknown one", async () => {
    const e = await create(alpha);
    for (const [method, path, body] of [
      ["GET", `/webhook_endpoints/${e.id}`, undefined],
      ["PATCH", `/webhook_endpoints/${e.id}`, { disabled: true }],
      ["DELETE", `/webhook_endpoints/${e.id}`, undefined],
      ["POST", `/webhook_endpoints/${e.id}/rotate_secret`, undefined],
    ] as const) {
      const res = await call(beta, method, path, body);
      expect(res.status, `${method} ${path}`).to.equal(404);
      expect(res.body.error?.code).to.equal("webhook_endpoint_not_found");
    }
    const list = await call(beta, "GET", "/webhook_endpoints");
    expect(list.body.data!.map((x) => x.id)).not.to.include(e.id);
    expect((await call(alpha, "GET", `/webhook_endpoints/${e.id}`)).body.disabled).to.equal(false);
  });

  it("needs the webhooks:manage scope", async () => {
    const issued = await p.ops.post<{ key: string }>(`/ops/merchants/${p.merchants[0]!.merchantId}/keys`, {
      scopes: ["payments:read", "payments:write"],
    });
    expect(issued.status, JSON.stringify(issued.body)).to.equal(201);
    for (const [method, path] of [
      ["POST", "/webhook_endpoints"],
      ["GET", "/webhook_endpoints"],
      ["GET", "/webhook_endpoints/we_000000000000000000000000"],
    ] as const) {
      const res = await call(
        issued.body.key,
        method,
        path,
        method === "POST" ? { url: HOOK, enabled_events: ["*"] } : undefined,
      );
      expect(res.status).to.equal(403);
      expect(res.body.error?.code).to.equal("insufficient_scope");
    }
  });

  it("refuses hostile input with a 4xx and a machine-readable code", async () => {
    const ok = { url: HOOK, enabled_events: ["payment.captured"] };
    const cases: Array<[string, unknown, number, string, string?]> = [
      [
        "plain http",
        { ...ok, url: "http://example.com/h" },
        400,
        "invalid_webhook_url",
        "scheme_not_allowed",
      ],
      ["private IP", { ...ok, url: "https://10.0.0.7/h" }, 400, "invalid_webhook_url", "address_not_allowed"],
      [
        "metadata IP",
        { ...ok, url: "https://169.254.169.254/latest" },
        400,
        "invalid_webhook_url",
        "address_not_allowed",
      ],
      [
        "metadata in hex",
        { ...ok, url: "https://0xa9fea9fe/" },
        400,
        "invalid_webhook_url",
        "address_not_allowed",
      ],
      [
        "mapped IPv6",
        { ...ok, url: "https://[::ffff:10.0.0.1]/" },
        400,
        "invalid_webhook_url",
        "address_not_allowed",
      ],
      [
        "credentials",
        { ...ok, url: "https://u:p@example.com/" },
        400,
        "invalid_webhook_url",
        "credentials_in_url",
      ],
      ["fragment", { ...ok, url: `${HOOK}#x` }, 400, "invalid_webhook_url", "fragment_in_url"],
      ["too long", { ...ok, url: `${HOOK}/${"a".repeat(2100)}` }, 400, "invalid_webhook_url", "too_long"],
      ["far too long", { ...ok, url: `${HOOK}/${"a".repeat(5000)}` }, 400, "validation_error"],
      ["not a URL", { ...ok, url: "hooks" }, 400, "invalid_webhook_url", "invalid"],
      ["unknown event", { ...ok, enabled_events: ["payment.teleported"] }, 400, "validation_error"],
      ["no events", { ...ok, enabled_events: [] }, 400, "validation_error"],
      [
        "duplicates",
        { ...ok, enabled_events: ["payment.captured", "payment.captured"] },
        400,
        "validation_error",
      ],
      ["* and more", { ...ok, enabled_events: ["*", "payment.captured"] }, 400, "validation_error"],
      ["events not an array", { ...ok, enabled_events: "payment.captured" }, 400, "validation_error"],
      ["url a number", { ...ok, url: 42 }, 400, "validation_error"],
      ["url null", { ...ok, url: null }, 400, "validation_error"],
      ["no url", { enabled_events: ["*"] }, 400, "validation_error"],
      ["unknown field", { ...ok, secret: "whsec_mine" }, 400, "validation_error"],
      ["description too long", { ...ok, description: "d".repeat(501) }, 400, "validation_error"],
      ["null body", "null", 400, "validation_error"],
      ["array body", "[]", 400, "validation_error"],
      ["not JSON", "{url:", 400, "invalid_json"],
      ["huge body", { ...ok, description: "x".repeat(200_000) }, 413, "payload_too_large"],
    ];
    for (const [name, body, status, code, reason] of cases) {
      const res = await call(alpha, "POST", "/webhook_endpoints", body);
      expect(res.status, `${name}: ${JSON.stringify(res.body).slice(0, 300)}`).to.equal(status);
      expect(res.body.error?.code, name).to.equal(code);
      if (reason) expect(res.body.error?.details.reason, name).to.equal(reason);
    }
    const e = await create();
    for (const body of [{}, { url: "https://10.1.1.1/" }, { disabled: "no" }, { enabled_events: null }]) {
      const res = await call(alpha, "PATCH", `/webhook_endpoints/${e.id}`, body);
      expect(res.status, JSON.stringify(body)).to.equal(400);
    }
    expect((await call(alpha, "GET", "/webhook_endpoints/we_nope")).status).to.equal(400);
    const wrongType = await fetch(`${p.url}/v1/webhook_endpoints`, {
      method: "POST",
      headers: { authorization: `Bearer ${alpha}`, "content-type": "text/plain", "idempotency-key": "t1" },
      body: "url=https://x",
    });
    expect(wrongType.status).to.equal(415);
  });

  it(`allows at most ${MAX_ENDPOINTS_PER_MERCHANT} endpoints per merchant`, async () => {
    const have = (await call(alpha, "GET", "/webhook_endpoints")).body.data!.length;
    for (let i = have; i < MAX_ENDPOINTS_PER_MERCHANT; i++) await create();
    const over = await call(alpha, "POST", "/webhook_endpoints", { url: HOOK, enabled_events: ["*"] });
    expect(over.status).to.equal(409);
    expect(over.body.error).to.deep.include({ code: "webhook_endpoint_limit_reached" });
    // Another merchant's count is its own.
    expect(
      (await call(beta, "POST", "/webhook_endpoints", { url: HOOK, enabled_events: ["*"] })).status,
    ).to.equal(201);
  });

  it("keeps endpoints through a read-model rebuild", async () => {
    const before = (await sql<{ n: number }[]>`select count(*)::int as n from webhook_endpoints`)[0]!.n;
    expect(before).to.be.greaterThan(0);
    await rebuildReadModels({ sql, schema: p.config.database.schema, close: () => Promise.resolve() });
    expect((await sql<{ n: number }[]>`select count(*)::int as n from webhook_endpoints`)[0]!.n).to.equal(
      before,
    );
  });

  it("is documented in /openapi.json, the secret only in the answers that issue it", async () => {
    const doc = (await (await fetch(`${p.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    const create = doc.paths["/v1/webhook_endpoints"]?.post;
    const rotate = doc.paths["/v1/webhook_endpoints/{id}/rotate_secret"]?.post;
    expect(JSON.stringify(create?.responses["201"])).to.include("WebhookEndpointWithSecret");
    expect(JSON.stringify(rotate?.responses["200"])).to.include("WebhookEndpointWithSecret");
    expect(JSON.stringify(doc.paths["/v1/webhook_endpoints/{id}"]?.get?.responses["200"])).not.to.include(
      "WithSecret",
    );
    expect(Object.keys(create?.responses ?? {})).to.include.members(["400", "403", "409", "422"]);
  });

  it("audits every change with the merchant as actor, and writes no secret anywhere", async () => {
    const audit = await p.ops.get<{
      entries: Array<{ actor: string; action: string; fields: Record<string, unknown> }>;
    }>("/ops/audit?action=webhook_endpoint&limit=200");
    expect(audit.status).to.equal(200);
    const actions = new Set(audit.body.entries.map((r) => r.action));
    for (const a of ["create", "update", "delete", "rotate_secret"])
      expect(actions).to.include(`webhook_endpoint.${a}`);
    expect(audit.body.entries.every((r) => r.actor.startsWith("merchant:"))).to.equal(true);
    expect(secrets.length).to.be.greaterThan(5);
    const logged = lines.join("\n") + JSON.stringify(audit.body);
    expect(logged).to.include("webhook endpoint created");
    for (const s of secrets) {
      expect(logged).not.to.include(s);
      expect(logged).not.to.include(s.slice(6));
    }
  });
});
