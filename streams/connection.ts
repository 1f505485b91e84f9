// NATS connection handling: reconnect forever, log status changes, know whether the connection is
// up right now (so a gateway can answer 503 at once instead of holding a merchant for the whole
// publish timeout while NATS is away), drain on close.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../config/log.ts";
// An answered request without a throwaway Error (streams/nats-request.ts): installed with the first connection.
import "./nats-request.ts";

const down = new WeakSet<NatsConnection>();

export async function connectNats(url: string, name: string, log: Logger): Promise<NatsConnection> {
  const nc = await connect({
    servers: url,
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
