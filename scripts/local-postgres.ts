// PostgreSQL for `npm start` on a machine without one: use what answers at DATABASE_URL, otherwise
// run PGlite (PostgreSQL compiled to WebAssembly) in this process behind its wire-protocol socket
// server, with its data on disk so payments survive a restart. PGlite serves one connection at a
// time: the socket server's multiplexer would let transactions from several connections
// interleave, so the server accepts one connection and the client's pool must be 1.
import { mkdirSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import type { Config } from "../config/env.ts";

export class EmbeddedPostgresError extends Error {
  override name = "EmbeddedPostgresError";
}

export type EmbeddedPostgres = {
  /** DATABASE_URL with the port actually bound (the same one unless 0 was asked for). */
  url: string;
  dataDir: string;
  stop(): Promise<void>;
};

/**
 * `config` on the embedded PGlite at `url`: one connection, which every role of the process shares,
 * and so the projections in the process's own event loop — on a thread of their own
 * (SWITCHYARD_PROJECTIONS=thread) they would need a second connection, which PGlite cannot serve.
 */
export function onEmbeddedPostgres(config: Config, url: string): Config {
  return {
    ...config,
    database: { ...config.database, url, max: 1 },
    worker: {
      ...config.worker,
      projections: config.worker.projections === "thread" ? "on" : config.worker.projections,
    },
  };
}

const DEFAULT_PORT = 5432;
const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "::1"]);
/** A PostgreSQL SSLRequest: any server answers one byte, S or N, before anything else. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

type Probe = "absent" | "postgres" | "other";

/** Who is at host:port: nothing, a PostgreSQL server, or something else holding the port. */
export function probePostgres(host: string, port: number, timeoutMs = 500): Promise<Probe> {
  return new Promise((done) => {
    const socket = tcpConnect({ host, port, timeout: timeoutMs });
    let connected = false;
    const finish = (result: Probe) => {
      socket.destroy();
      done(result);
    };
    socket.once("connect", () => {
      connected = true;
      socket.write(SSL_REQUEST);
    });
    socket.once("data", (chunk: Buffer) =>
      finish(chunk.length >= 1 && (chunk[0] === 0x53 || chunk[0] === 0x4e) ? "postgres" : "other"),
    );
    socket.once("timeout", () => finish(connected ? "other" : "absent"));
    socket.once("error", () => finish(connected ? "other" : "absent"));
  });
}

function hostPort(url: string): { parsed: URL; host: string; port: number } {
  const parsed = new URL(url);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  return { parsed, host, port: parsed.port === "" ? DEFAULT_PORT : Number(parsed.port) };
}

/** Start PGlite on `dataDir` (created if new) and serve it on host:port (0: any free port). */
export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  host: string;
  port: number;
  /** The URL to hand back, with the bound port put in; a plain postgres:// URL if absent. */
  url?: string;
}): Promise<EmbeddedPostgres> {
  mkdirSync(opts.dataDir, { recursive: true });
  const db = await PGlite.create(opts.dataDir);
  const server = new PGLiteSocketServer({ db, host: opts.host, port: opts.port, maxConnections: 1 });
  try {
    await server.start();
  } catch (err) {
    await db.close();
    throw err;
  }
  // "host:port" once listening; the port is the bound one when 0 was asked for.
  const bound = Number(server.getServerConn().split(":").pop());
  const url = new URL(opts.url ?? `postgres://postgres@${opts.host}/postgres`);
  url.port = String(bound);
  let stopped = false;
  return {
    url: url.toString(),
    dataDir: opts.dataDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      // Closing checkpoints the data directory, so the next start opens it without recovery.
      await db.close();
    },
  };
}

export type EnsurePostgresResult = { started?: EmbeddedPostgres };

/**
 * Use the PostgreSQL at `url` if one answers; otherwise start the embedded one on that local
 * host:port with its data in `<dataDir>/pglite`. Refuses a port held by something else and a
 * remote address (nothing is started for a server that lives elsewhere).
 */
export async function ensurePostgres(opts: {
  url: string;
  dataDir: string;
  log: (line: string) => void;
}): Promise<EnsurePostgresResult> {
  const { parsed, host, port } = hostPort(opts.url);
  const shown = `${parsed.protocol}//${parsed.hostname}:${port}`;
  const found = await probePostgres(host, port);
  if (found === "postgres") {
    opts.log(`postgres: using the server at ${shown}`);
    return {};
  }
  if (!LOCAL_HOSTS.has(host))
    throw new EmbeddedPostgresError(
      `PostgreSQL is not answering at ${shown}, which is not a local address, so none is started here: start it there or set DATABASE_URL`,
    );
  if (found === "other")
    throw new EmbeddedPostgresError(
      `something that is not PostgreSQL holds ${host}:${port}: stop it or set DATABASE_URL to another port`,
    );
  const dataDir = resolve(opts.dataDir, "pglite");
  const bindHost = host === "localhost" ? "127.0.0.1" : host;
  let started: EmbeddedPostgres;
  try {
    started = await startEmbeddedPostgres({ dataDir, host: bindHost, port, url: opts.url });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new EmbeddedPostgresError(
      `could not start the embedded PostgreSQL (PGlite) on ${host}:${port}: ${e.code ?? e.message}; set DATABASE_URL to a running PostgreSQL`,
      { cause: err },
    );
  }
  opts.log(
    `postgres: nothing answered at ${shown}, so an embedded PostgreSQL (PGlite) runs in this process there, data in ${dataDir}, one connection at a time; the Procfile roles need a real PostgreSQL (DATABASE_URL)`,
  );
  return { started };
}
