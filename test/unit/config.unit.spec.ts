import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import {
  ConfigError,
  DEV_NOTIFICATION_SECRETS,
  loadConfig,
  withDevelopmentSecrets,
} from "../../config/env.ts";
import {
  SecretFileError,
  hashApiKey,
  loadOrCreateCardKey,
  loadOrCreateDemoMerchant,
} from "../../config/secrets.ts";

function problemsOf(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return err as ConfigError;
  }
  expect.fail("loadConfig accepted a bad environment");
}

const KEY_A = "sk_live_AAAAsecretAAAA0001";
const KEY_B = "sk_live_BBBBsecretBBBB0002";
const OP_KEY_A = "op_live_AAAAsecretAAAA00000001";
const OP_KEY_B = "op_live_BBBBsecretBBBB00000002";

describe("loadConfig", () => {
  it("has no notification secrets by default: a production role never verifies with the published ones", () => {
    const config = loadConfig({});
    expect(config.notifications.acmeWebhookSecret).to.equal(undefined);
    expect(config.notifications.boltHmacKey).to.equal(undefined);
    // Only the development compositions (scripts/platform.ts) fill them in, and say which.
    const dev = withDevelopmentSecrets(config);
    expect(dev.filled).to.deep.equal(["SWITCHYARD_ACME_WEBHOOK_SECRET", "SWITCHYARD_BOLT_HMAC_KEY"]);
    expect(dev.config.notifications.boltHmacKey).to.equal(DEV_NOTIFICATION_SECRETS.boltHmacKey);
    const own = loadConfig({ SWITCHYARD_BOLT_HMAC_KEY: "ab".repeat(32) });
    expect(withDevelopmentSecrets(own).filled).to.deep.equal(["SWITCHYARD_ACME_WEBHOOK_SECRET"]);
    expect(withDevelopmentSecrets(own).config.notifications.boltHmacKey).to.equal("ab".repeat(32));
  });

  it("takes an optional basic-auth pair per PSP door, and refuses a weak one without echoing it", () => {
    const config = loadConfig({ SWITCHYARD_BOLT_NOTIFY_BASIC_AUTH: "adyen:SECRETsecretSECRET1" });
    expect(config.notifications.basicAuth).to.deep.equal({ bolt: "adyen:SECRETsecretSECRET1" });
    expect(loadConfig({}).notifications.basicAuth).to.deep.equal({});
    const error = problemsOf({ SWITCHYARD_ACME_NOTIFY_BASIC_AUTH: "stripe:SECRETshort" });
    expect(error.problems.join()).to.include("SWITCHYARD_ACME_NOTIFY_BASIC_AUTH");
    expect(error.message).not.to.match(/SECRET/);
  });

  it("gives every variable its default when the environment is empty", () => {
    const config = loadConfig({});
    expect(config.gateway).to.deep.equal({ host: "127.0.0.1", port: 8080, replyWaitMs: 10_000 });
    expect(config.nats.url).to.equal("nats://127.0.0.1:4222");
    expect(config.redis.url).to.equal("redis://127.0.0.1:6379");
    expect(config.prefix).to.equal("");
    expect(config.partitions).to.equal(64);
    expect(config.bootstrapKeys).to.deep.equal([]);
    expect(config.operatorKeys).to.deep.equal([]);
    expect(config.psp).to.deep.equal({ timeoutMs: 5_000 });
    expect(config.sandbox).to.deep.equal({
      url: "http://127.0.0.1:8081",
      port: 8081,
      slowCardDelayMs: 10_000,
      retainCharges: 10_000,
      persist: true,
    });
    expect(config.snapshotEvery).to.equal(10);
    expect(config.passivateAfterMs).to.equal(60_000);
    expect(config.cardKey).to.equal(undefined);
    expect(config.dataDir).to.equal(".data");
    expect(config.logLevel).to.equal("info");
  });

  it("treats a blank variable as unset", () => {
    expect(loadConfig({ PORT: "", SWITCHYARD_PARTITIONS: "  " }).partitions).to.equal(64);
  });

  it("reads every variable into its typed field", () => {
    const config = loadConfig({
      PORT: "9000",
      HOST: "0.0.0.0",
      NATS_URL: "nats://nats.internal:4223",
      REDIS_URL: "rediss://redis.internal:6380",
      SWITCHYARD_PREFIX: "run_42",
      SWITCHYARD_PARTITIONS: "256",
      SWITCHYARD_BOOTSTRAP_KEYS: ` m_1:${KEY_A} , m-2:${KEY_B},`,
      SWITCHYARD_REPLY_WAIT_MS: "2500",
      SWITCHYARD_PSP_TIMEOUT_MS: "1500",
      SANDBOX_URL: "http://sandbox:9090",
      SANDBOX_PORT: "9090",
      SANDBOX_SLOW_CARD_DELAY_MS: "3000",
      SANDBOX_PERSIST: "false",
      SANDBOX_RETAIN_CHARGES: "250",
      SWITCHYARD_SNAPSHOT_EVERY: "5",
      SWITCHYARD_PASSIVATE_AFTER_MS: "1000",
      SWITCHYARD_CARD_KEY: "ab".repeat(32),
      SWITCHYARD_DATA_DIR: "/var/lib/switchyard",
      LOG_LEVEL: "debug",
    });
    expect(config.gateway).to.deep.equal({ host: "0.0.0.0", port: 9000, replyWaitMs: 2500 });
    expect(config.nats.url).to.equal("nats://nats.internal:4223");
    expect(config.redis.url).to.equal("rediss://redis.internal:6380");
    expect(config.prefix).to.equal("run_42");
    expect(config.partitions).to.equal(256);
    expect(config.bootstrapKeys).to.deep.equal([
      { merchantId: "m_1", key: KEY_A },
      { merchantId: "m-2", key: KEY_B },
    ]);
    expect(config.psp).to.deep.equal({ timeoutMs: 1500 });
    expect(config.sandbox).to.deep.equal({
      url: "http://sandbox:9090",
      port: 9090,
      slowCardDelayMs: 3000,
      retainCharges: 250,
      persist: false,
    });
    expect(config.snapshotEvery).to.equal(5);
    expect(config.passivateAfterMs).to.equal(1000);
    expect(config.cardKey).to.deep.equal(Buffer.alloc(32, 0xab));
    expect(config.dataDir).to.equal("/var/lib/switchyard");
    expect(config.logLevel).to.equal("debug");
  });

  it("names every bad variable and why in one error", () => {
    const error = problemsOf({
      PORT: "abc",
      SWITCHYARD_PARTITIONS: "2000",
      SWITCHYARD_PREFIX: "team-a",
      LOG_LEVEL: "loud",
      NATS_URL: "http://127.0.0.1:4222",
      SANDBOX_PERSIST: "yes",
    });
    expect(error.name).to.equal("ConfigError");
    expect(error).to.be.instanceOf(Error);
    expect(error.problems).to.have.length(6);
    expect(error.message).to.match(/^invalid configuration: /);
    expect(error.message).to.include('PORT: expected an integer 0-65535, got "abc"');
    expect(error.message).to.include('SWITCHYARD_PARTITIONS: expected an integer 1-1024, got "2000"');
    expect(error.message).to.include('SWITCHYARD_PREFIX: expected letters, digits and _ only, got "team-a"');
    expect(error.message).to.include("LOG_LEVEL: expected one of fatal, error, warn, info");
    expect(error.message).to.include("NATS_URL: expected a nats:// or tls:// URL");
    expect(error.message).to.include('SANDBOX_PERSIST: expected true or false, got "yes"');
  });

  it("accepts only plain decimal integers", () => {
    for (const bad of ["80.5", "1e3", "-1", "0x10", "65536", "8080abc"]) {
      expect(problemsOf({ PORT: bad }).problems, bad).to.deep.equal([
        `PORT: expected an integer 0-65535, got ${JSON.stringify(bad)}`,
      ]);
    }
  });

  it("requires the sandbox's slow card to outlast the PSP timeout", () => {
    const error = problemsOf({ SWITCHYARD_PSP_TIMEOUT_MS: "10000", SANDBOX_SLOW_CARD_DELAY_MS: "10000" });
    expect(error.problems).to.deep.equal([
      "SANDBOX_SLOW_CARD_DELAY_MS: must be larger than SWITCHYARD_PSP_TIMEOUT_MS (10000), got 10000",
    ]);
  });

  it("names malformed bootstrap entries by position without echoing any key", () => {
    const error = problemsOf({
      SWITCHYARD_BOOTSTRAP_KEYS: `m1:${KEY_A},nocolonSECRETvalue0003,bad id:${KEY_B},m4:tinySECRET,m5:${KEY_A}`,
    });
    expect(error.problems).to.have.length(1);
    expect(error.message).to.include("entry 2 is malformed (expected merchant_id:key)");
    expect(error.message).to.include("entry 3 is malformed (merchant id");
    expect(error.message).to.include("entry 4 is malformed (key must be at least 16 characters)");
    expect(error.message).to.include("entry 5 repeats the key of an earlier entry");
    expect(error.message).not.to.match(/SECRET|secret/);
  });

  it("reads operator keys as name:key pairs, each an admin", () => {
    const config = loadConfig({
      SWITCHYARD_OPERATOR_KEYS: ` alice:${OP_KEY_A} , bob.ops:${OP_KEY_B},`,
    });
    expect(config.operatorKeys).to.deep.equal([
      { name: "alice", key: OP_KEY_A, role: "admin" },
      { name: "bob.ops", key: OP_KEY_B, role: "admin" },
    ]);
  });

  it("reads an operator's role from name:key:role", () => {
    const config = loadConfig({
      SWITCHYARD_OPERATOR_KEYS: `vera:${OP_KEY_A}:viewer,otto:${OP_KEY_B}:operator,ada:${OP_KEY_A}C:admin`,
    });
    expect(config.operatorKeys.map((k) => [k.name, k.role])).to.deep.equal([
      ["vera", "viewer"],
      ["otto", "operator"],
      ["ada", "admin"],
    ]);
  });

  it("refuses an unknown operator role rather than reading it as part of the key", () => {
    const error = problemsOf({
      SWITCHYARD_OPERATOR_KEYS: `vera:${OP_KEY_A}:veiwer,otto:${OP_KEY_B}:operator:x`,
    });
    expect(error.message).to.include(
      'entry 1 has an unknown role "veiwer" (expected viewer, operator, admin)',
    );
    expect(error.message).to.include("entry 2 is malformed (expected name:key or name:key:role)");
    expect(error.message).not.to.match(/SECRET|secret/);
  });

  it("names malformed operator keys by position without echoing any key", () => {
    const error = problemsOf({
      SWITCHYARD_OPERATOR_KEYS: [
        `alice:${OP_KEY_A}`,
        "nocolonSECRETvalue0003xxxxxxxx",
        `bad name:${OP_KEY_B}`,
        "carol:shortSECRET_16chars",
        `dave:${OP_KEY_A}`,
        `alice:${OP_KEY_B}`,
      ].join(","),
    });
    expect(error.problems).to.have.length(1);
    expect(error.message).to.include(
      "SWITCHYARD_OPERATOR_KEYS: entry 2 is malformed (expected name:key or name:key:role)",
    );
    expect(error.message).to.include("entry 3 is malformed (operator name");
    expect(error.message).to.include("entry 4 is malformed (key must be at least 24 characters)");
    expect(error.message).to.include("entry 5 repeats the key of an earlier entry");
    expect(error.message).to.include('entry 6 repeats the operator name "alice"');
    expect(error.message).not.to.match(/SECRET|secret/);
  });

  it("refuses an operator key that is also a merchant key", () => {
    const shared = `sk_shared_${"S".repeat(20)}`;
    const error = problemsOf({
      SWITCHYARD_BOOTSTRAP_KEYS: `m1:${shared}`,
      SWITCHYARD_OPERATOR_KEYS: `alice:${shared}`,
    });
    expect(error.problems).to.deep.equal([
      'SWITCHYARD_OPERATOR_KEYS: entry 1 (operator "alice") uses a key of SWITCHYARD_BOOTSTRAP_KEYS',
    ]);
  });

  it("never echoes a bad card key or a bad URL, which may carry credentials", () => {
    const error = problemsOf({
      SWITCHYARD_CARD_KEY: "SECRET".padEnd(64, "z"),
      REDIS_URL: "redis//user:SECRET@host",
      SANDBOX_URL: "ftp://user:SECRET@host",
    });
    expect(error.problems).to.have.length(3);
    expect(error.message).to.include("SWITCHYARD_CARD_KEY: expected 64 hex characters");
    expect(error.message).to.include("REDIS_URL: expected a redis:// or rediss:// URL");
    expect(error.message).to.include('SANDBOX_URL: expected a http:// or https:// URL, got scheme "ftp:"');
    expect(error.message).not.to.include("SECRET");
  });
});

describe("secrets in the data dir", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "switchyard-secrets-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const modeOf = (path: string) => statSync(path).mode & 0o777;

  it("creates a 256-bit card key readable only by its owner, and reads the same key back", () => {
    const dataDir = join(dir, "nested", "data");
    const key = loadOrCreateCardKey(dataDir);
    expect(key).to.have.length(32);
    expect(modeOf(join(dataDir, "card.key"))).to.equal(0o600);
    expect(readFileSync(join(dataDir, "card.key"), "utf8").trim()).to.equal(key.toString("hex"));
    expect(loadOrCreateCardKey(dataDir).equals(key)).to.equal(true);
  });

  it("refuses a damaged card key file instead of replacing it", () => {
    writeFileSync(join(dir, "card.key"), "not hex\n");
    expect(() => loadOrCreateCardKey(dir)).to.throw(SecretFileError, /card\.key does not hold 64 hex/);
    expect(readFileSync(join(dir, "card.key"), "utf8")).to.equal("not hex\n");
  });

  it("creates the demo merchant's key once, stores only its hash, and never returns it again", () => {
    const first = loadOrCreateDemoMerchant(dir);
    expect(first.merchantId).to.equal("demo");
    expect(first.createdKey).to.match(/^sk_demo_[0-9A-Za-z]{32}$/);
    const createdKey = first.createdKey!;
    const expectedHash = createHash("sha256").update(createdKey).digest();
    expect(first.keyHash.equals(expectedHash)).to.equal(true);
    expect(hashApiKey(createdKey).equals(expectedHash)).to.equal(true);

    const path = join(dir, "demo-merchant.json");
    expect(modeOf(path)).to.equal(0o600);
    const stored = readFileSync(path, "utf8");
    expect(stored).not.to.include(createdKey);
    expect(stored).not.to.include(createdKey.slice("sk_demo_".length));
    expect((JSON.parse(stored) as { keyHash: string }).keyHash).to.equal(expectedHash.toString("hex"));

    const again = loadOrCreateDemoMerchant(dir);
    expect(again).not.to.have.property("createdKey");
    expect(again.keyHash.equals(expectedHash)).to.equal(true);
  });

  it("refuses a demo merchant file without a usable hash", () => {
    writeFileSync(join(dir, "demo-merchant.json"), JSON.stringify({ merchantId: "demo", key: "sk_demo_x" }));
    expect(() => loadOrCreateDemoMerchant(dir)).to.throw(SecretFileError, /no keyHash/);
  });
});

describe("loadConfig: webhooks", () => {
  it("defaults to the Standard Webhooks-like schedule, 5 days before disabling, 10 s timeout", () => {
    const { webhooks } = loadConfig({});
    expect(webhooks.enabled).to.equal(true);
    expect(webhooks.retryScheduleMs).to.deep.equal([
      5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
    ]);
    expect(webhooks.disableAfterMs).to.equal(5 * 86_400_000);
    expect(webhooks.timeoutMs).to.equal(10_000);
  });

  it("reads a schedule of durations, a disable delay and off", () => {
    const { webhooks } = loadConfig({
      SWITCHYARD_WEBHOOK_RETRY_SCHEDULE: "1s, 2s,500ms,1m",
      SWITCHYARD_WEBHOOK_DISABLE_AFTER: "3s",
      SWITCHYARD_WEBHOOKS: "off",
    });
    expect(webhooks.retryScheduleMs).to.deep.equal([1_000, 2_000, 500, 60_000]);
    expect(webhooks.disableAfterMs).to.equal(3_000);
    expect(webhooks.enabled).to.equal(false);
  });

  it("says which schedule entry is bad, and refuses a bad duration or switch", () => {
    const e = problemsOf({
      SWITCHYARD_WEBHOOK_RETRY_SCHEDULE: "5s,5 minutes",
      SWITCHYARD_WEBHOOK_DISABLE_AFTER: "forever",
      SWITCHYARD_WEBHOOKS: "maybe",
    });
    expect(e.message).to.match(/SWITCHYARD_WEBHOOK_RETRY_SCHEDULE: entry 2: expected a duration/);
    expect(e.message).to.match(/SWITCHYARD_WEBHOOK_DISABLE_AFTER: expected a duration/);
    expect(e.message).to.match(/SWITCHYARD_WEBHOOKS: expected on or off/);
  });
});

describe("loadConfig: projections (the projector role)", () => {
  it("runs the projections in the worker by default, and serves the projector's metrics on 9465", () => {
    const config = loadConfig({});
    expect(config.worker).to.deep.equal({ metricsPort: 9464, projections: "on" });
    expect(config.projector).to.deep.equal({ metricsPort: 9465 });
  });

  it("runs them on a thread of the worker with thread, leaves them to a projector with off, refuses anything else", () => {
    expect(loadConfig({ SWITCHYARD_PROJECTIONS: "thread" }).worker.projections).to.equal("thread");
    const config = loadConfig({ SWITCHYARD_PROJECTIONS: "off", SWITCHYARD_PROJECTOR_METRICS_PORT: "0" });
    expect(config.worker.projections).to.equal("off");
    expect(config.projector.metricsPort).to.equal(0);
    for (const bad of ["false", "Thread", "threads", "1"]) {
      const e = problemsOf({ SWITCHYARD_PROJECTIONS: bad, SWITCHYARD_PROJECTOR_METRICS_PORT: "70000" });
      expect(e.message, bad).to.match(/SWITCHYARD_PROJECTIONS: expected thread, on or off, got/);
    }
    const e = problemsOf({ SWITCHYARD_PROJECTIONS: "false", SWITCHYARD_PROJECTOR_METRICS_PORT: "70000" });
    expect(e.message).to.match(/SWITCHYARD_PROJECTOR_METRICS_PORT:/);
  });
});
