// A free TCP port on loopback for a server a test, the bench or `npm run cluster` starts: one
// function for every caller (the cluster's nodes, the bench's Procfile children, the outage tests'
// restarted servers, the embedded PostgreSQL test).
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

const HOST = "127.0.0.1";
/** Ports this process handed out: never handed out twice (their servers may not have bound them yet). */
const handedOut = new Set<number>();

/**
 * A free port below the kernel's ephemeral range. Not one `listen(0)` hands out: those come from the
 * range outgoing connections take their local ports from, so while a killed node is down any
 * connection of the machine may take its port, and the restart fails ("address already in use").
 * Checked free by binding it (another process may still take it before the node does, rarely).
 */
export async function freePort(): Promise<number> {
  const [low] = ephemeralRange();
  const from = Math.min(20_000, low - 2_000);
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = from + Math.floor(Math.random() * (low - from));
    // Checked free, then let go: a later call (or one running beside it: the cluster asks for its
    // nine ports at once) could draw it again before its server binds it.
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await canListen(port)) return port;
    handedOut.delete(port);
  }
  throw new Error(`no free port found between ${from} and ${low}`);
}

function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
      .trim()
      .split(/\s+/)
      .map(Number);
    if (low !== undefined && high !== undefined && low > 2_048) return [low, high];
  } catch {
    // not Linux: the IANA range
  }
  return [49_152, 65_535];
}

async function canListen(port: number): Promise<boolean> {
  const srv = createServer();
  const listening = once(srv, "listening").then(
    () => true,
    () => false,
  );
  srv.once("error", () => undefined);
  srv.listen(port, HOST);
  const ok = await Promise.race([listening, once(srv, "error").then(() => false)]);
  if (ok) {
    srv.close();
    await once(srv, "close");
  }
  return ok;
}
