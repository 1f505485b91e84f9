// NATS connection handling: reconnect forever, log status changes, know whether the connection is
// up right now (so a gateway can answer 503 at once instead of holding a merchant for the whole
// publish timeout while NATS is away), drain on close.
import { readFileSync } from "node:fs";
import { credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../config/log.ts";
// An answered request without a throwaway Error (streams/nats-request.ts): installed with the first connection.
import "./nats-request.ts";
import { connectGathering } from "./nats-transport.ts";

import { isNoSuitablePeers, isReplicasNotSupported } from "./jetstream-errors.ts";

const down = new WeakSet<NatsConnection>();

/** Where and as whom: a server list, and the credentials the servers ask for (config/env.ts). */
export type NatsTarget = { url: string; user?: string; password?: string; credsFile?: string };

/**
 * `url`: one server or several, comma-separated (`nats://a:4222,nats://b:4222`, as NATS_URL takes
 * them and the NATS tools do): the client connects to any that answers and, once connected, also
 * learns the cluster's other members from the server, reconnecting to one of them when its own dies.
 * With a user and password, or a `.creds` file (read here, at connect), the servers' authorization
 * (config/nats-server.production.conf) lets the role in; credentials are never logged.
 */
export async function connectNats(
  target: string | NatsTarget,
  name: string,
  log: Logger,
): Promise<NatsConnection> {
  const t = typeof target === "string" ? { url: target } : target;
  const nc = await connectGathering({
    servers: natsServers(t.url),
    ...(t.user !== undefined && { user: t.user, pass: t.password ?? "" }),
    ...(t.credsFile !== undefined && { authenticator: credsAuthenticator(readFileSync(t.credsFile)) }),
    name,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    pingInterval: 10_000,
    // Async stack traces cost an Error (with its stack) per request; measured ~5% of the worker's
    // CPU at load (npm run bench). Errors still carry the synchronous stack.
    noAsyncTraces: true,
  });
  void watchStatus(nc, log);
  return nc;
}

/** The servers of a NATS_URL: split on commas, trimmed, blanks dropped. */
export function natsServers(url: string): string[] {
  return url
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/**
 * The error a role stops with when its streams or buckets cannot have the replicas it was configured
 * with: a single server (or a cluster smaller than SWITCHYARD_STREAM_REPLICAS, or with too few nodes
 * up) refuses such a stream at once. Said in terms of the configuration; other errors unchanged.
 */
export function explainReplicasError(err: unknown, replicas: number): unknown {
  if (replicas <= 1 || !(isReplicasNotSupported(err) || isNoSuitablePeers(err))) return err;
  const why = isReplicasNotSupported(err)
    ? "the NATS server at NATS_URL is not part of a cluster"
    : "the NATS cluster at NATS_URL has fewer JetStream servers up than that";
  return new Error(
    `SWITCHYARD_STREAM_REPLICAS=${replicas} asks for ${replicas} copies of every stream and bucket, but ${why} ` +
      `(JetStream: ${err instanceof Error ? err.message : String(err)}): set it to at most the number of servers ` +
      `(1 for a single server), or start them all (npm run cluster: three)`,
    { cause: err },
  );
}

/** False between a disconnect and the next reconnect (or once closed). */
export function isConnected(nc: NatsConnection): boolean {
  return !down.has(nc) && !nc.isClosed();
}

async function watchStatus(nc: NatsConnection, log: Logger): Promise<void> {
  for await (const s of nc.status()) {
    if (s.type === "disconnect") down.add(nc);
    if (s.type === "reconnect") down.delete(nc);
    if (s.type === "disconnect" || s.type === "reconnect" || s.type === "error")
      log.warn(
        { natsStatus: s.type, server: "server" in s ? s.server : undefined },
        "nats connection status",
      );
  }
}
