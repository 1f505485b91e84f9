// A gRPC watch when the NATS node holding its consumer dies: a three-node cluster (R3 streams), the
// platform in this process with its gRPC server. A watch is opened on an authorized payment; its
// consumer (R1, in memory) lives on one node, which is killed. Without a replacement the watch would
// hear nothing more (the client library asks the dead node for the consumer's info without end);
// the feed goes silent, reads on with a new consumer elsewhere, and the watch reports the capture
// made after the kill.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { startNatsCluster, type NatsCluster } from "../../scripts/nats-cluster.ts";
import { topology } from "../../streams/topology.ts";
import {
  auth,
  call,
  createRequest,
  paymentsClient,
  watch,
  type PaymentsClient,
} from "../support/grpc-client.ts";
import { cleanupRun, startTestPlatform, testEnv, type TestPlatform } from "../support/platform.ts";
import { capturingLogger } from "../support/log-capture.ts";
import { waitFor } from "../support/wait.ts";
import type { PaymentResult__Output as Result } from "../../gateway/grpc/generated/switchyard/v1/PaymentResult.ts";

describe("a gRPC watch when the NATS node holding its consumer dies (e2e, 3-node cluster)", function () {
  this.timeout(120_000);
  let dir: string;
  let cluster: NatsCluster;
  let platform: TestPlatform | undefined;
  let env: Record<string, string> = {};
  let client: PaymentsClient;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const captured = capturingLogger("info");

  before(async function () {
    this.timeout(120_000);
    dir = mkdtempSync(join(tmpdir(), "switchyard-watch-cluster-"));
    cluster = await startNatsCluster({ dir, name: "watch" });
    env = testEnv({ NATS_URL: cluster.natsUrl, SWITCHYARD_STREAM_REPLICAS: "3" });
    platform = await startTestPlatform({ env, log: captured.log });
    client = paymentsClient(platform.grpcAddress!);
    nc = await connect({ servers: cluster.urls });
    jsm = await jetstreamManager(nc, { timeout: 1_000 });
  });

  after(async function () {
    this.timeout(60_000);
    client?.close();
    await nc?.close();
    await platform?.stop();
    if (env.SWITCHYARD_PREFIX) await cleanupRun(env).catch(() => undefined);
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads on with a new consumer and reports the capture made after the kill", async () => {
    const key = platform!.merchants[0]!.key;
    const stream = topology(env.SWITCHYARD_PREFIX!, 1).eventStream;
    const created = await call<Result>((cb) => client.CreatePayment(createRequest(), auth(key), cb));
    const id = created.payment!.id;
    expect(created.payment!.status).to.equal("authorized");
    const w = watch(client, id, auth(key));
    await waitFor(() => w.updates.length >= 1, { timeoutMs: 10_000, what: "the watch's first update" });

    // The watch's consumer, and the node it lives on.
    const holder = await waitFor(
      async () => {
        for await (const c of jsm.consumers.list(stream))
          if (c.name.startsWith("watch_")) return c.cluster?.leader;
        return undefined;
      },
      { timeoutMs: 10_000, what: "the watch's consumer and its node" },
    );
    const i = cluster.names.indexOf(holder);
    expect(i, `node ${holder}`).to.be.at.least(0);
    await cluster.kill(i);
    const killedAt = Date.now();

    // Capture once the platform can again (the stream may be electing a leader; the gateway may
    // have been connected to the dead node): the same idempotency key every time.
    await waitFor(
      () =>
        call<Result>((cb) =>
          client.CapturePayment(
            { idempotency_key: "cap-after-kill", payment_id: id, amount: 1000 },
            auth(key),
            cb,
          ),
        ).catch(() => undefined),
      { timeoutMs: 30_000, what: "the capture after the kill" },
    );
    let ended: string | undefined;
    void w.ended.then((e) => (ended = e === null ? "OK" : `${e.code} ${e.details}`));
    try {
      await waitFor(() => w.updates.some((u) => u.payment?.status === "captured") || ended !== undefined, {
        timeoutMs: 40_000,
        what: "the capture reported by the watch opened before the kill",
      });
    } finally {
      // What the gateway said of the watch, should it not have carried on.
      for (const l of captured.lines)
        if (/watch/i.test(l) && /"level":(40|50)/.test(l)) console.log(`        ${l.trim()}`);
    }
    expect(ended, "the watch's end").to.equal(undefined);
    console.log(`      the watch reported the capture ${Date.now() - killedAt} ms after the kill`);
    const reopened = await platform!.metrics.registry
      .getSingleMetric("switchyard_grpc_watch_feed_reopened_total")!
      .get();
    const total = reopened.values.reduce((n, v) => n + v.value, 0);
    expect(total, "feeds read again").to.be.at.least(1);
    w.cancel();
    await w.ended;
    await cluster.restart(i);
  });
});
