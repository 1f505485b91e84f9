// The roles log in to a NATS server that requires it (config/nats-server.production.conf's
// authorization block): NATS_USER / NATS_PASSWORD reach the connection, a wrong or missing password
// is refused by the server, and the configuration refuses half a pair or a password shown back.
// A real nats-server with that block, on a free port, started and stopped here.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import pino from "pino";
import { ConfigError, loadConfig } from "../../config/env.ts";
import { findNatsServer, freePort } from "../../scripts/nats-cluster.ts";
import { connectNats } from "../../streams/connection.ts";
import { waitFor } from "../support/wait.ts";

const PASSWORD = "s3cret-for-this-test";

describe("NATS credentials", function () {
  this.timeout(30_000);
  let dir: string;
  let server: ChildProcess;
  let url: string;
  const log = pino({ level: "silent" });

  before(async () => {
    const bin = findNatsServer();
    if (bin === undefined)
      throw new Error("nats-server is not installed (the tests need it: apt install nats-server)");
    dir = mkdtempSync(join(tmpdir(), "switchyard-nats-auth-"));
    const port = await freePort();
    url = `nats://127.0.0.1:${port}`;
    const conf = join(dir, "auth.conf");
    writeFileSync(
      conf,
      `listen: 127.0.0.1:${port}\nauthorization { users: [ { user: switchyard, password: "${PASSWORD}" } ] }\n`,
    );
    server = spawn(bin, ["-c", conf], { stdio: "ignore" });
    // Up once it answers at all (an unauthenticated connect is refused by a live server, not by nobody).
    await waitFor(
      async () =>
        connectNats(url, "probe", log).then(
          async (nc) => (await nc.close(), true),
          (err: unknown) => /Authorization/i.test(String(err)),
        ),
      { timeoutMs: 10_000, what: "the nats-server with authorization" },
    );
  });

  after(async () => {
    server.kill();
    if (server.exitCode === null) await once(server, "exit");
    rmSync(dir, { recursive: true, force: true });
  });

  it("connects with the configured user and password", async () => {
    const config = loadConfig({ NATS_URL: url, NATS_USER: "switchyard", NATS_PASSWORD: PASSWORD });
    const nc = await connectNats(config.nats, "auth-test", log);
    try {
      // A round trip the server answers only on a logged-in connection.
      await nc.flush();
      expect(nc.info?.server_id).to.be.a("string");
    } finally {
      await nc.close();
    }
  });

  it("is refused by the server without them, or with a wrong password", async () => {
    const none = await connectNats(url, "auth-test", log).catch((e: unknown) => e);
    expect(String(none)).to.match(/Authorization/i);
    const wrong = loadConfig({ NATS_URL: url, NATS_USER: "switchyard", NATS_PASSWORD: "not-it" });
    expect(String(await connectNats(wrong.nats, "auth-test", log).catch((e: unknown) => e))).to.match(
      /Authorization/i,
    );
  });

  it("refuses half a pair, a .creds file that is not there, and never shows the password back", () => {
    const problems = (env: Record<string, string>): string => {
      try {
        loadConfig(env);
      } catch (err) {
        if (err instanceof ConfigError) return err.message;
        throw err;
      }
      return "";
    };
    expect(problems({ NATS_USER: "switchyard" })).to.include("NATS_PASSWORD");
    expect(problems({ NATS_PASSWORD: PASSWORD })).to.include("NATS_USER");
    expect(problems({ NATS_CREDS: join(dir, "missing.creds") })).to.include("NATS_CREDS");
    const bad = problems({ NATS_USER: "switchyard", NATS_PASSWORD: "has a space" });
    expect(bad).to.include("NATS_PASSWORD").and.not.to.include("has a space");
  });
});
