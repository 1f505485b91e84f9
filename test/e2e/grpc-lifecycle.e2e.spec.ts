// The gRPC server's life with the platform around it: health follows the NATS connection, a call
// while NATS is down is UNAVAILABLE at once, a watch whose consumer did not survive a NATS restart
// reads on with a new one (and reports what happened after), and stopping the gateway ends open
// watches with UNAVAILABLE and leaves no consumer. NATS is private to this file (own port and store), so
// stopping it disturbs no other run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { status } from "@grpc/grpc-js";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import type { LocalServices } from "../../scripts/local-services.ts";
import { startPrivateNats } from "../support/private-services.ts";
import { freePort } from "../../scripts/free-port.ts";
import { REDIS_URL } from "../support/infra.ts";
import { dropRunSchema, startTestPlatform, testEnv, type TestPlatform } from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";
import {
  auth,
  call,
  createRequest,
  failure,
  healthCheck,
  paymentsClient,
  watch,
  type PaymentsClient,
} from "../support/grpc-client.ts";
import type { PaymentResult__Output as Result } from "../../gateway/grpc/generated/switchyard/v1/PaymentResult.ts";

describe("the gRPC server's lifecycle (e2e)", function () {
  this.timeout(90_000);
  const dataDir = mkdtempSync(join(tmpdir(), "switchyard-grpc-outage-"));
  let natsUrl: string;
  let nats: LocalServices | undefined;
  let platform: TestPlatform | undefined;
  let env: Record<string, string> = {};
  let client: PaymentsClient;
  let key: string;

  const startNats = async () => void (nats = await startPrivateNats(natsUrl, dataDir));

  before(async () => {
    natsUrl = `nats://127.0.0.1:${await freePort()}`;
    await startNats();
    env = testEnv({ NATS_URL: natsUrl });
    platform = await startTestPlatform({ env });
    client = paymentsClient(platform.grpcAddress!);
    key = platform.merchants[0]!.key;
  });

  after(async () => {
    client?.close();
    await platform?.stop();
    // Its NATS is its own; the read models and snapshots are in the shared PostgreSQL and Redis.
    await dropRunSchema(env);
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${env.SWITCHYARD_PREFIX}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await nats?.stop();
    if (env.SWITCHYARD_DATA_DIR) rmSync(env.SWITCHYARD_DATA_DIR, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("says NOT_SERVING and answers UNAVAILABLE while NATS is down, serves again after, and keeps a watch going across the restart", async () => {
    const address = platform!.grpcAddress!;
    expect(await healthCheck(address, "switchyard.v1.Payments")).to.equal("SERVING");
    const created = await call<Result>((cb) => client.CreatePayment(createRequest(), auth(key), cb));
    const w = watch(client, created.payment!.id, auth(key));
    await waitFor(() => w.updates.length >= 1, { timeoutMs: 5_000, what: "the watch's first update" });

    await nats!.stop();
    await waitFor(async () => (await healthCheck(address, "switchyard.v1.Payments")) === "NOT_SERVING", {
      timeoutMs: 10_000,
      what: "health NOT_SERVING",
    });
    expect(await healthCheck(address, "")).to.equal("NOT_SERVING");
    const started = Date.now();
    const refused = await failure(call<Result>((cb) => client.CreatePayment(createRequest(), auth(key), cb)));
    expect(refused.code).to.equal(status.UNAVAILABLE);
    expect(refused.rich?.reason).to.equal("service_unavailable");
    expect(Date.now() - started).to.be.below(1_000);

    await startNats();
    await waitFor(async () => (await healthCheck(address, "")) === "SERVING", {
      timeoutMs: 20_000,
      what: "health SERVING again",
    });
    const again = await waitFor(
      async () =>
        call<Result>((cb) => client.CreatePayment(createRequest(), auth(key), cb)).catch(() => undefined),
      { timeoutMs: 20_000, what: "a create after NATS is back" },
    );
    expect(again.payment!.status).to.equal("authorized");
    // The watch's consumer (in memory) did not survive the restart; its feed was read again with a
    // new one from the last frame it gave, so the watch carries on and reports the capture.
    const id = created.payment!.id;
    await call<Result>((cb) =>
      client.CapturePayment(
        { idempotency_key: "cap-after-restart", payment_id: id, amount: 1000 },
        auth(key),
        cb,
      ),
    );
    await waitFor(() => w.updates.some((u) => u.payment?.status === "captured"), {
      timeoutMs: 20_000,
      what: "the capture reported by the watch opened before the restart",
    });
    const reopened = await platform!.metrics.registry
      .getSingleMetric("switchyard_grpc_watch_feed_reopened_total")!
      .get();
    expect(reopened.values.find((v) => v.labels.reason === "ended")?.value).to.equal(1);
    w.cancel();
    expect((await w.ended)?.code).to.equal(status.CANCELLED);
  });

  it("ends open watches UNAVAILABLE when the gateway stops, and leaves no consumer behind", async () => {
    const created = await call<Result>((cb) => client.CreatePayment(createRequest(), auth(key), cb));
    const w = watch(client, created.payment!.id, auth(key));
    await waitFor(() => w.updates.length >= 1, { timeoutMs: 5_000, what: "the watch's first update" });
    const { eventStream } = platform!.infra!.topo;
    await platform!.stop();
    platform = undefined;
    expect((await w.ended)?.code).to.equal(status.UNAVAILABLE);
    const nc = await connect({ servers: natsUrl });
    try {
      const jsm = await jetstreamManager(nc);
      const names: string[] = [];
      for await (const c of jsm.consumers.list(eventStream)) names.push(c.name);
      expect(names.filter((n) => n.startsWith("watch_"))).to.deep.equal([]);
    } finally {
      await nc.close();
    }
  });
});
