// nats-server decides which merchant a publisher acts for: with a user allowed to publish only
// `<prefix>.pay.cmd.*.m_alpha.*` (and to hear only its merchant's replies), the service of
// test/e2e/fixtures/nats-client-process.ts pays for m_alpha over NATS, and the server refuses that
// user's publish to m_beta's subject and to the events stream: nothing of it is stored. The whole
// platform runs on a nats-server of its own here (JetStream, an authorization block, a free port).
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { expect } from "chai";
import { findNatsServer, freePort } from "../../scripts/nats-cluster.ts";
import { runService, serviceDir } from "../support/client-service.ts";
import { startTestPlatform, testEnv, type TestPlatform } from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";

const ADMIN = `admin-${randomBytes(6).toString("hex")}`;
const ALPHA = `alpha-${randomBytes(6).toString("hex")}`;

describe("nats-server permissions hold an internal service to its merchant", function () {
  this.timeout(120_000);
  let dir: string;
  let service: string;
  let server: ChildProcess;
  let url: string;
  let p: TestPlatform;
  const env = testEnv();
  const prefix = env.SWITCHYARD_PREFIX!;

  before(async () => {
    const bin = findNatsServer();
    if (bin === undefined)
      throw new Error("nats-server is not installed (the tests need it: apt install nats-server)");
    dir = mkdtempSync(join(tmpdir(), "switchyard-nats-perms-"));
    const port = await freePort();
    url = `nats://127.0.0.1:${port}`;
    writeFileSync(
      join(dir, "server.conf"),
      [
        `listen: 127.0.0.1:${port}`,
        `jetstream { store_dir: "${join(dir, "js")}" }`,
        "authorization { users: [",
        `  { user: switchyard, password: "${ADMIN}" }`,
        `  { user: billing, password: "${ALPHA}", permissions: {`,
        // Its commands, and an ordered consumer of its own events only (the filter is in the subject).
        `      publish: { allow: ["${prefix}.pay.cmd.*.m_alpha.*",`,
        `        "$JS.API.CONSUMER.CREATE.${prefix}_PAY_OUT.*.${prefix}.pay.out.m_alpha.>",`,
        `        "$JS.API.CONSUMER.MSG.NEXT.${prefix}_PAY_OUT.*", "$JS.API.STREAM.INFO.${prefix}_PAY_OUT"] }`,
        `      subscribe: { allow: ["_INBOX.>", "${prefix}.pay.reply.m_alpha.>"] } } }`,
        "] }",
        "",
      ].join("\n"),
    );
    server = spawn(bin, ["-c", join(dir, "server.conf")], { stdio: "ignore" });
    await waitFor(
      () =>
        connect({ servers: url, user: "switchyard", pass: ADMIN }).then(
          async (nc) => (await nc.close(), true),
          () => false,
        ),
      { timeoutMs: 10_000, what: "the nats-server with permissions" },
    );
    p = await startTestPlatform({
      env: { ...env, NATS_URL: url, NATS_USER: "switchyard", NATS_PASSWORD: ADMIN },
    });
    service = serviceDir();
  });
  after(async () => {
    await p?.cleanup();
    server?.kill();
    if (server && server.exitCode === null) await once(server, "exit");
    if (service) rmSync(service, { recursive: true, force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const serviceEnv = (merchant: { merchantId: string; key: string }) => ({
    NATS_URL: url,
    NATS_USER: "billing",
    NATS_PASSWORD: ALPHA,
    SWITCHYARD_PREFIX: prefix,
    SWITCHYARD_PARTITIONS: env.SWITCHYARD_PARTITIONS!,
    MERCHANT_ID: merchant.merchantId,
    GATEWAY_URL: p.url,
    API_KEY: merchant.key,
    CARD_NUMBER: "4242424242424242",
    IDEMPOTENCY_KEY: randomBytes(8).toString("hex"),
  });

  it("lets the service pay for its own merchant over NATS", async () => {
    const { code, lines, stderr } = await runService(service, serviceEnv(p.merchants[0]!));
    expect(code, `${stderr}\n${JSON.stringify(lines)}`).to.equal(0);
    expect(lines.find((l) => l.step === "refunded")).to.deep.include({ status: "partially_refunded" });
  });

  it("refuses, at the server, its publish for another merchant and to the events stream", async () => {
    const admin = await connect({ servers: url, user: "switchyard", pass: ADMIN });
    const jsm = await jetstreamManager(admin);
    const before = (await jsm.streams.info(`${prefix}_PAY_CMD`)).state.last_seq;
    const nc = await connect({ servers: url, user: "billing", pass: ALPHA });
    try {
      const js = jetstream(nc);
      for (const subject of [`${prefix}.pay.cmd.0.m_beta.x`, `${prefix}.pay.evt.x`]) {
        const err = await js.publish(subject, "{}", { timeout: 5_000 }).then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        expect(String(err?.message), subject).to.match(/Permissions Violation for Publish/);
      }
    } finally {
      await nc.close();
    }
    // The client for m_beta under this user: refused by the server, answered service_unavailable.
    const { code, lines } = await runService(service, serviceEnv(p.merchants[1]!));
    expect(code).to.equal(1);
    expect(lines.find((l) => l.step === "failed")).to.deep.include({ error: "service_unavailable" });
    expect((await jsm.streams.info(`${prefix}_PAY_CMD`)).state.last_seq).to.equal(before);
    await admin.close();
  });
});
