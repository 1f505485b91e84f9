// Local NATS JetStream and Redis for one machine (npm start, tests): use what already answers at
// the configured URLs, otherwise start the installed binaries as child processes and own them
// until `stop()`. Nothing here downloads anything. Given a DATABASE_URL, PostgreSQL too: the
// embedded PGlite of local-postgres.ts when nothing answers there.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { accessSync, closeSync, constants, mkdirSync, openSync, statSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { delimiter, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect as natsConnect } from "@nats-io/transport-node";
import { ensurePostgres, type EmbeddedPostgres } from "./local-postgres.ts";

/** Searched after PATH: where Debian puts nats-server, and where Homebrew and source installs go. */
export const DEFAULT_BIN_DIRS = ["/usr/sbin", "/usr/local/bin", "/opt/homebrew/bin"];

export class MissingServiceError extends Error {
  override name = "MissingServiceError";
}

export class ServiceStartError extends Error {
  override name = "ServiceStartError";
}

export type EnsureServicesOptions = {
  natsUrl: string;
  redisUrl: string;
  dataDir: string;
  log?: (line: string) => void;
  binDirs?: string[];
  /** Also PostgreSQL (npm start); the tests use the server at DATABASE_URL and leave this out. */
  databaseUrl?: string;
};

export type LocalServices = {
  started: string[];
  /** Set when PGlite was started here: the platform must use its URL with a pool of 1. */
  embeddedPostgres?: EmbeddedPostgres;
  stop(): Promise<void>;
};

type Spec = {
  binary: "nats-server" | "redis-server";
  envVar: "NATS_URL" | "REDIS_URL";
  defaultPort: number;
  install: string;
  /** Sent on connect, if the server waits to be spoken to. */
  hello?: string;
  /** What the first bytes back look like. */
  greeting: RegExp;
  args(host: string, port: number, dir: string): string[];
  /** Beyond an open port: nats-server accepts connections a moment before JetStream is up. */
  ready?(url: string): Promise<void>;
};

type Endpoint = { url: string; host: string; port: number; shown: string; tls: boolean };

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

const NATS: Spec = {
  binary: "nats-server",
  envVar: "NATS_URL",
  defaultPort: 4222,
  install: "Debian/Ubuntu: sudo apt install nats-server; macOS: brew install nats-server",
  greeting: /^INFO /,
  args: (host, port, dir) => ["-js", "-a", host, "-p", String(port), "-sd", dir],
  ready: jetStreamAnswers,
};

const REDIS: Spec = {
  binary: "redis-server",
  envVar: "REDIS_URL",
  defaultPort: 6379,
  install: "Debian/Ubuntu: sudo apt install redis-server; macOS: brew install redis",
  // +PONG, or -NOAUTH from a server with a password: either way it is Redis.
  hello: "PING\r\n",
  greeting: /^[+-]/,
  // Redis is a disposable cache here, so it never writes to disk.
  args: (host, port, dir) => [
    "--bind",
    host,
    "--port",
    String(port),
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    dir,
  ],
};

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "::1"]);

function endpoint(url: string, defaultPort: number): Endpoint {
  const parsed = new URL(url);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = parsed.port === "" ? defaultPort : Number(parsed.port);
  // Shown in messages and logs without any credentials the URL may carry.
  return {
    url,
    host,
    port,
    shown: `${parsed.protocol}//${parsed.hostname}:${port}`,
    tls: parsed.protocol === "rediss:",
  };
}

type Probe = "absent" | "ours" | "other";

/**
 * Who is at host:port: nothing, the server we expect (it speaks first or answers a hello in its
 * own protocol), or something else. An open port alone proves little: some networks accept
 * every connection.
 */
function probe(at: Endpoint, spec: Spec, timeoutMs = 500): Promise<Probe> {
  return new Promise((done) => {
    const socket = tcpConnect({ host: at.host, port: at.port, timeout: timeoutMs });
    let connected = false;
    const finish = (result: Probe) => {
      socket.destroy();
      done(result);
    };
    socket.once("connect", () => {
      connected = true;
      // A TLS-only Redis can't be greeted in clear text; the open port has to do.
      if (at.tls) return finish("ours");
      if (spec.hello !== undefined) socket.write(spec.hello);
    });
    socket.once("data", (chunk: Buffer) =>
      finish(spec.greeting.test(chunk.toString("latin1")) ? "ours" : "other"),
    );
    socket.once("timeout", () => finish(connected ? "other" : "absent"));
    socket.once("error", () => finish(connected ? "other" : "absent"));
  });
}

async function jetStreamAnswers(url: string): Promise<void> {
  const nc = await natsConnect({ servers: url, timeout: 2_000, reconnect: false });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.getAccountInfo();
  } finally {
    await nc.close();
  }
}

function findBinary(name: string, extraDirs: string[]): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), ...extraDirs].filter((d) => d !== "");
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

const running = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

async function terminate(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (!running(child)) return;
  child.kill("SIGTERM");
  const stopped = await Promise.race([exited.then(() => true), sleep(STOP_TIMEOUT_MS).then(() => false)]);
  if (!stopped) {
    child.kill("SIGKILL");
    await exited;
  }
}

type Started = { name: string; child: ChildProcess; exited: Promise<unknown> };

/** Returns what it started, or undefined when a server was already there to use. */
async function ensureOne(
  spec: Spec,
  url: string,
  opts: EnsureServicesOptions,
  log: (line: string) => void,
  spawned: Started[],
): Promise<Started | undefined> {
  const at = endpoint(url, spec.defaultPort);
  const found = await probe(at, spec);
  if (found === "ours") {
    log(`${spec.binary}: using the server at ${at.shown}`);
    // Someone else's server: a failed check may be auth we can't see, so warn rather than refuse.
    await spec.ready?.(url).catch((err: unknown) => {
      log(`${spec.binary}: warning: ${at.shown} answers but its readiness check failed: ${String(err)}`);
    });
    return undefined;
  }
  if (found === "other" && LOCAL_HOSTS.has(at.host)) {
    throw new ServiceStartError(
      `something that is not ${spec.binary} holds ${at.host}:${at.port}: stop it or set ${spec.envVar}`,
    );
  }
  if (!LOCAL_HOSTS.has(at.host)) {
    throw new MissingServiceError(
      `${spec.binary} is not answering at ${at.shown}, which is not a local address, so it is not started here: start it there or set ${spec.envVar}`,
    );
  }
  const binary = findBinary(spec.binary, opts.binDirs ?? DEFAULT_BIN_DIRS);
  if (binary === undefined) {
    throw new MissingServiceError(
      `${spec.binary} is not running at ${at.shown} and no ${spec.binary} binary was found: install it (${spec.install}) or set ${spec.envVar}`,
    );
  }

  const dir = resolve(opts.dataDir, spec.binary === "nats-server" ? "nats" : "redis");
  mkdirSync(dir, { recursive: true });
  const logPath = resolve(opts.dataDir, `${spec.binary}.log`);
  const logFd = openSync(logPath, "a");
  // Bind to the address, not the name: redis-server only binds addresses.
  const bindHost = at.host === "localhost" ? "127.0.0.1" : at.host;
  const child = spawn(binary, spec.args(bindHost, at.port, dir), { stdio: ["ignore", logFd, logFd] });
  closeSync(logFd);
  let spawnError: Error | undefined;
  child.once("error", (err) => (spawnError = err));
  const exited = once(child, "exit").catch(() => undefined);
  const started: Started = { name: spec.binary, child, exited };
  spawned.push(started);
  log(`${spec.binary}: starting ${binary} on ${at.shown} (pid ${child.pid ?? "?"}, log ${logPath})`);

  const deadline = Date.now() + START_TIMEOUT_MS;
  let lastProblem = "the port never opened";
  while (Date.now() < deadline) {
    if (spawnError !== undefined || !running(child)) {
      // Another process starting at the same moment may have won the port: then use its server.
      if ((await probe(at, spec)) === "ours") {
        log(`${spec.binary}: another process started it first; using that one`);
        return undefined;
      }
      const why = spawnError?.message ?? `exited with ${child.exitCode ?? child.signalCode}`;
      throw new ServiceStartError(`${spec.binary} ${why} before answering at ${at.shown}; see ${logPath}`);
    }
    if ((await probe(at, spec)) === "ours") {
      try {
        await spec.ready?.(url);
        log(`${spec.binary}: ready at ${at.shown}`);
        return started;
      } catch (err) {
        lastProblem = `it did not become ready: ${String(err)}`;
      }
    }
    await sleep(100);
  }
  await terminate(child, exited);
  throw new ServiceStartError(
    `${spec.binary} did not answer at ${at.shown} within ${START_TIMEOUT_MS} ms (${lastProblem}); see ${logPath}`,
  );
}

/**
 * Makes NATS (with JetStream) and Redis answer at the given URLs, starting local binaries when
 * needed. `stop()` ends only the processes started here.
 */
export async function ensureServices(opts: EnsureServicesOptions): Promise<LocalServices> {
  const log = opts.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  // Tracked from the moment of spawn: a crash or process.exit(), even mid-startup, must not
  // leave servers behind holding the ports. (A SIGKILL still can; the next run then reuses them.)
  const spawned: Started[] = [];
  const killOnExit = () => {
    for (const { child } of spawned) if (running(child)) child.kill("SIGTERM");
  };
  process.once("exit", killOnExit);
  // In this process, so an exit ends it too; stop() is for a clean close of its data directory.
  let embedded: EmbeddedPostgres | undefined;
  const stop = async () => {
    process.removeListener("exit", killOnExit);
    await Promise.all([
      ...spawned
        .filter(({ child }) => running(child))
        .map(async ({ name, child, exited }) => {
          await terminate(child, exited);
          log(`${name}: stopped (pid ${child.pid ?? "?"})`);
        }),
      embedded?.stop().then(() => log("postgres: embedded PGlite stopped")),
    ]);
  };

  const databaseUrl = opts.databaseUrl;
  const [nats, redis, postgres] = await Promise.allSettled([
    ensureOne(NATS, opts.natsUrl, opts, log, spawned),
    ensureOne(REDIS, opts.redisUrl, opts, log, spawned),
    databaseUrl === undefined
      ? Promise.resolve(undefined)
      : ensurePostgres({ url: databaseUrl, dataDir: opts.dataDir, log }).then((r) => (embedded = r.started)),
  ]);
  const failure = [nats, redis, postgres].find((r) => r.status === "rejected");
  if (failure !== undefined) {
    await stop();
    throw failure.reason;
  }
  const started = [nats, redis].flatMap((r) =>
    r.status === "fulfilled" && r.value !== undefined ? [r.value.name] : [],
  );
  if (embedded !== undefined) started.push("pglite");
  return { started, ...(embedded !== undefined && { embeddedPostgres: embedded }), stop };
}
