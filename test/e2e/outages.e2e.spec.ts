// NATS and Redis going away under a running platform. Both servers are private to this file (own
// ports, own data dir), so stopping them disturbs no other test run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import type { LocalServices } from "../../scripts/local-services.ts";
import { startPrivateNats, startPrivateRedis } from "../support/private-services.ts";
import {
  dropRunSchema,
  paymentBody,
  startTestPlatform,
  testEnv,
  type Api,
  type TestPlatform,
} from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";
import { freePort } from "../../scripts/free-port.ts";

describe("NATS and Redis outages under a running platform (e2e)", function () {
  this.timeout(90_000);
  const dataDir = mkdtempSync(join(tmpdir(), "switchyard-outage-"));
  let natsUrl: string;
  let redisUrl: string;
  let nats: LocalServices | undefined;
  let redis: LocalServices | undefined;
  let platform: TestPlatform;
  let api: Api;

  // Each private server is started alone (test/support/private-services.ts), on the same store each time.
  const startNats = async () => void (nats = await startPrivateNats(natsUrl, dataDir));
  const startRedis = async () => void (redis = await startPrivateRedis(redisUrl, dataDir));
  const readiness = async () => {
    const res = await fetch(`${platform.url}/readyz`);
    return { status: res.status, checks: ((await res.json()) as { checks: Record<string, string> }).checks };
  };

  before(async () => {
    natsUrl = `nats://127.0.0.1:${await freePort()}`;
    redisUrl = `redis://127.0.0.1:${await freePort()}`;
    await startNats();
    await startRedis();
    platform = await startTestPlatform({
      env: testEnv({ NATS_URL: natsUrl, REDIS_URL: redisUrl, SWITCHYARD_SNAPSHOT_EVERY: "1" }),
    });
    api = platform.api(platform.merchants[0]!);
  });

  after(async () => {
    await platform?.stop();
    // Its NATS and Redis are its own; the read models are in the shared PostgreSQL.
    if (platform) await dropRunSchema(platform.env);
    if (platform?.env.SWITCHYARD_DATA_DIR)
      rmSync(platform.env.SWITCHYARD_DATA_DIR, { recursive: true, force: true });
    await redis?.stop();
    await nats?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("keeps taking payments while Redis is down, and says so on /readyz", async () => {
    const before = await api.post("/v1/payments", paymentBody());
    expect(before.body.status).to.equal("authorized");
    await redis!.stop();
    const down = await waitFor(async () => ((await readiness()).status === 503 ? readiness() : undefined), {
      timeoutMs: 20_000,
      what: "/readyz to report Redis down",
    });
    expect(down.checks.redis).not.to.equal("ok");
    expect(down.checks.nats).to.equal("ok");

    const during = await api.post("/v1/payments", paymentBody({ amount: 1234 }));
    expect(during.status).to.equal(201);
    expect(during.body.status).to.equal("authorized");
    const capture = await api.post(`/v1/payments/${before.body.id}/capture`, {});
    expect(capture.body).to.include({ status: "captured", captured_amount: 2500 });

    await startRedis();
    await waitFor(async () => (await readiness()).status === 200, {
      timeoutMs: 20_000,
      what: "/readyz to recover with Redis",
    });
    // A fresh, empty Redis: the state comes from JetStream alone.
    expect((await api.get(`/v1/payments/${before.body.id}`)).body.status).to.equal("captured");
  });

  it("answers 503 at once while NATS is down, and recovers with nothing lost", async () => {
    const first = await api.post("/v1/payments", paymentBody({ amount: 4321 }), "before-outage");
    expect(first.status).to.equal(201);
    await nats!.stop();
    await waitFor(
      async () => {
        const res = await api.post("/v1/payments", paymentBody(), "during-outage");
        return res.status === 503 && res.body.error.code === "service_unavailable";
      },
      { timeoutMs: 20_000, what: "a 503 while NATS is down" },
    );
    const started = Date.now();
    const refused = await api.post("/v1/payments", paymentBody(), "during-outage");
    expect(refused.status).to.equal(503);
    expect(Date.now() - started, "answered without waiting for timeouts").to.be.lessThan(1_000);
    expect((await readiness()).status).to.equal(503);

    await startNats(); // same store directory: the streams and their messages are still there
    const retried = await waitFor(
      async () => {
        const res = await api.post("/v1/payments", paymentBody(), "during-outage");
        return res.status === 201 ? res : undefined;
      },
      { timeoutMs: 30_000, what: "the retried request to succeed after NATS is back" },
    );
    expect(retried.body.status).to.equal("authorized");
    expect(platform.sandbox!.charges({ reference: retried.body.id })).to.have.length(1);
    const again = await api.get(`/v1/payments/${first.body.id}`);
    expect(again.body).to.include({ status: "authorized", amount: 4321 });
  });
});
