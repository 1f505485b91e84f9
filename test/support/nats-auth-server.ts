// A real nats-server (JetStream, temp store, free port) run with scripts/nats-auth.ts's authorization
// for a prefix, its log kept so a test can read the permission violations the server saw. Each user's
// password is `pw-<user>` (a test's, never a real one).
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
import {
  authorizationConf,
  internalInboxPrefix,
  PLATFORM_ROLES,
  type InternalSystem,
} from "../../scripts/nats-auth.ts";
import { findNatsServer, freePort } from "../../scripts/nats-cluster.ts";
import { waitFor } from "./wait.ts";

export type AuthServer = {
  url: string;
  /** The password of `user` in this server's configuration. */
  password(user: string): string;
  /** A connection as `user` (an internal system's with its own inbox prefix). */
  connectAs(user: string, opts?: Partial<ConnectionOptions>): Promise<NatsConnection>;
  /** The server's log lines about permission violations so far. */
  violations(): string[];
  stop(): Promise<void>;
};

export async function startAuthServer(o: {
  prefix: string;
  internal: InternalSystem[];
}): Promise<AuthServer> {
  const bin = findNatsServer();
  if (bin === undefined)
    throw new Error("nats-server is not installed (the tests need it: apt install nats-server)");
  const dir = mkdtempSync(join(tmpdir(), "switchyard-nats-perm-"));
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  const users = [...PLATFORM_ROLES, ...o.internal.map((s) => s.user)];
  const password = (u: string) => `pw-${u}`;
  const conf = join(dir, "server.conf");
  const logFile = join(dir, "server.log");
  writeFileSync(
    conf,
    `listen: 127.0.0.1:${port}\njetstream { store_dir: ${JSON.stringify(join(dir, "js"))} }\n` +
      `logfile: ${JSON.stringify(logFile)}\n` +
      authorizationConf({
        prefix: o.prefix,
        internal: o.internal,
        passwords: Object.fromEntries(users.map((u) => [u, password(u)])),
      }),
  );
  const server: ChildProcess = spawn(bin, ["-c", conf], { stdio: "ignore" });
  const internal = new Set(o.internal.map((s) => s.user));
  const connectAs = (user: string, opts: Partial<ConnectionOptions> = {}) =>
    connect({
      servers: url,
      user,
      pass: password(user),
      ...(internal.has(user) && { inboxPrefix: internalInboxPrefix(user) }),
      ...opts,
    });
  await waitFor(
    async () =>
      connectAs("worker").then(
        async (nc) => (await nc.close(), true),
        () => false,
      ),
    { timeoutMs: 10_000, what: "the nats-server with permissions" },
  );
  return {
    url,
    password,
    connectAs,
    violations() {
      let text = "";
      try {
        text = readFileSync(logFile, "utf8");
      } catch {
        return [];
      }
      return text.split("\n").filter((l) => /Violation/i.test(l));
    },
    async stop() {
      server.kill();
      if (server.exitCode === null) await once(server, "exit");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
