// A three-node JetStream cluster of local nats-server processes on loopback: a config file, a data
// directory and a log per node, routes between all three. `startNatsCluster()` is what the fault
// tests use (free ports, a temporary directory); run as a script (`npm run cluster`) it starts the
// cluster on fixed ports in the foreground and stops it on Ctrl-C / SIGTERM. Nothing is
// downloaded: nats-server must be installed (Debian: apt install nats-server).
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { accessSync, closeSync, constants, mkdirSync, openSync, writeFileSync } from "node:fs";

export { freePort } from "./free-port.ts";
import { freePort } from "./free-port.ts";
import { delimiter, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { DEFAULT_BIN_DIRS } from "./local-services.ts";

export type NodePorts = { client: number; cluster: number; monitor: number };

export type NatsCluster = {
  /** Client URLs, one per node (`nats://127.0.0.1:<port>`). */
  urls: string[];
  /** The same, comma-separated: what NATS_URL takes. */
  natsUrl: string;
  /** Each node's monitoring endpoint (`http://127.0.0.1:<port>`: /jsz, /routez). */
  monitorUrls: string[];
  /** Server names (`n1`, `n2`, `n3`): what stream info's `cluster.leader` names. */
  names: string[];
  /** Process ids (undefined for a node that is down). */
  pids(): Array<number | undefined>;
  /** SIGKILL node i (0-based) and wait for it to be gone. */
  kill(i: number): Promise<void>;
  /** Start node i again on its ports and data directory; resolves once it answers JetStream requests. */
  restart(i: number): Promise<void>;
  /** SIGTERM every node (SIGKILL after 5 s) and wait for them. */
  stop(): Promise<void>;
};

export type NatsClusterOptions = {
  /** Three nodes' ports; free ports when not given. */
  ports?: NodePorts[];
  /** Where the config files, data directories and logs go. */
  dir: string;
  /** The cluster's name. */
  name?: string;
  binDirs?: string[];
  /** How long to wait for the cluster to elect a JetStream meta leader. */
  readyTimeoutMs?: number;
};

const NODES = 3;
const HOST = "127.0.0.1";
const STOP_TIMEOUT_MS = 5_000;

export function nodeConfig(o: {
  name: string;
  cluster: string;
  dir: string;
  ports: NodePorts;
  peers: number[];
}) {
  return [
    `server_name: ${o.name}`,
    `listen: "${HOST}:${o.ports.client}"`,
    `http: "${HOST}:${o.ports.monitor}"`,
    `jetstream {`,
    `  store_dir: ${JSON.stringify(o.dir)}`,
    `  max_memory_store: 256MB`,
    `  max_file_store: 2GB`,
    `}`,
    `cluster {`,
    `  name: ${o.cluster}`,
    `  listen: "${HOST}:${o.ports.cluster}"`,
    `  routes: [`,
    ...o.peers.map((p) => `    "nats://${HOST}:${p}"`),
    `  ]`,
    `}`,
    ``,
  ].join("\n");
}

/** The nats-server binary on PATH or in `extraDirs` (/usr/sbin and the like, as DEFAULT_BIN_DIRS). */
export function findNatsServer(extraDirs: string[] = DEFAULT_BIN_DIRS): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), ...extraDirs].filter((d) => d !== "");
  for (const d of dirs) {
    try {
      accessSync(join(d, "nats-server"), constants.X_OK);
      return join(d, "nats-server");
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

export async function startNatsCluster(opts: NatsClusterOptions): Promise<NatsCluster> {
  const binary = findNatsServer(opts.binDirs ?? DEFAULT_BIN_DIRS);
  if (binary === undefined)
    throw new Error(
      "no nats-server binary found: install it (Debian/Ubuntu: sudo apt install nats-server; macOS: brew install nats-server)",
    );
  const ports: NodePorts[] =
    opts.ports ??
    (await Promise.all(
      Array.from({ length: NODES }, async () => ({
        client: await freePort(),
        cluster: await freePort(),
        monitor: await freePort(),
      })),
    ));
  if (ports.length !== NODES) throw new Error(`a cluster here has ${NODES} nodes, got ${ports.length} ports`);
  const cluster = opts.name ?? "switchyard";
  const dir = resolve(opts.dir);
  const names = ports.map((_, i) => `n${i + 1}`);
  const configs = ports.map((p, i) => {
    const nodeDir = join(dir, names[i]!);
    mkdirSync(nodeDir, { recursive: true });
    const file = join(dir, `${names[i]}.conf`);
    const peers = ports.filter((_, j) => j !== i).map((q) => q.cluster);
    writeFileSync(file, nodeConfig({ name: names[i]!, cluster, dir: nodeDir, ports: p, peers }));
    return file;
  });
  const urls = ports.map((p) => `nats://${HOST}:${p.client}`);
  const monitorUrls = ports.map((p) => `http://${HOST}:${p.monitor}`);
  const children: Array<{ child: ChildProcess; exited: Promise<unknown> } | undefined> = [];

  const launch = (i: number) => {
    const logFd = openSync(join(dir, `${names[i]}.log`), "a");
    const child = spawn(binary, ["-c", configs[i]!], { stdio: ["ignore", logFd, logFd] });
    closeSync(logFd);
    const exited = once(child, "exit").catch(() => undefined);
    children[i] = { child, exited };
  };
  const alive = (i: number) => {
    const c = children[i]?.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  };
  const killAll = () => {
    for (let i = 0; i < NODES; i++) if (alive(i)) children[i]!.child.kill("SIGKILL");
  };
  // A crash of the process that started them must not leave servers holding the ports.
  process.once("exit", killAll);

  const stopNode = async (i: number) => {
    const c = children[i];
    if (c === undefined || !alive(i)) return;
    c.child.kill("SIGTERM");
    const stopped = await Promise.race([c.exited.then(() => true), sleep(STOP_TIMEOUT_MS).then(() => false)]);
    if (!stopped) {
      c.child.kill("SIGKILL");
      await c.exited;
    }
  };
  const stop = async () => {
    process.removeListener("exit", killAll);
    await Promise.all(names.map((_, i) => stopNode(i)));
  };

  const timeoutMs = opts.readyTimeoutMs ?? 30_000;
  try {
    for (let i = 0; i < NODES; i++) launch(i);
    await Promise.all(urls.map((u, i) => untilJetStream(u, names[i]!, () => alive(i), timeoutMs, dir)));
    await untilMetaGroupWhole(monitorUrls, timeoutMs);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    urls,
    natsUrl: urls.join(","),
    monitorUrls,
    names,
    pids: () => children.map((c, i) => (alive(i) ? c?.child.pid : undefined)),
    async kill(i) {
      const c = children[i];
      if (c === undefined || !alive(i)) return;
      c.child.kill("SIGKILL");
      await c.exited;
    },
    async restart(i) {
      if (alive(i)) throw new Error(`${names[i]} is running`);
      launch(i);
      await untilJetStream(urls[i]!, names[i]!, () => alive(i), timeoutMs, dir);
      await untilMetaGroupWhole(monitorUrls, timeoutMs);
    },
    stop,
  };
}

/**
 * Until a connection to this one node gets an answer from the JetStream API: in a cluster that
 * takes routes up and a meta leader elected (before that the API answers 503).
 */
async function untilJetStream(
  url: string,
  name: string,
  alive: () => boolean,
  timeoutMs: number,
  dir: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "never answered";
  while (Date.now() < deadline) {
    if (!alive())
      throw new Error(`nats-server ${name} exited during start-up; see ${join(dir, `${name}.log`)}`);
    try {
      const nc = await connect({ servers: url, timeout: 1_000, reconnect: false });
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2_000 });
        await jsm.getAccountInfo();
        return;
      } finally {
        await nc.close();
      }
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(100);
  }
  throw new Error(`nats-server ${name} (${url}) had no JetStream after ${timeoutMs} ms: ${last}`);
}

type MetaCluster = { leader?: string; replicas?: Array<{ current?: boolean }> };

/**
 * Until the JetStream meta leader counts every other node as a current peer. The API answers as soon
 * as a leader is elected, but until the leader has heard from all three, an R3 stream cannot be
 * placed ("no suitable peers for placement": seen once in CI, on a loaded machine, right after
 * start-up). Read from each node's monitoring `/jsz`; only the leader lists the replicas.
 */
async function untilMetaGroupWhole(monitorUrls: readonly string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no node answered /jsz";
  while (Date.now() < deadline) {
    for (const url of monitorUrls) {
      try {
        const res = await fetch(`${url}/jsz`, { signal: AbortSignal.timeout(1_000) });
        const meta = ((await res.json()) as { meta_cluster?: MetaCluster }).meta_cluster;
        const replicas = meta?.replicas;
        if (replicas === undefined) continue; // not the leader
        if (replicas.length === NODES - 1 && replicas.every((r) => r.current === true)) return;
        last = `the meta leader ${meta?.leader} has ${replicas.filter((r) => r.current).length} current peers of ${NODES - 1}`;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
    }
    await sleep(100);
  }
  throw new Error(`the cluster's JetStream meta group was not whole after ${timeoutMs} ms: ${last}`);
}

/** `npm run cluster`: fixed ports 4231-4233 (clients), 6231-6233 (routes), 8231-8233 (monitoring). */
async function main(): Promise<void> {
  const dir = resolve(process.env.SWITCHYARD_DATA_DIR ?? ".data", "nats-cluster");
  const ports = [0, 1, 2].map((i) => ({ client: 4231 + i, cluster: 6231 + i, monitor: 8231 + i }));
  process.stderr.write(`nats-cluster: starting three nodes, data and logs under ${dir}\n`);
  const cluster = await startNatsCluster({ ports, dir, name: "switchyard" });
  process.stdout.write(
    [
      ``,
      `  A three-node JetStream cluster is running (pids ${cluster.pids().join(", ")}).`,
      `  Point the roles at it, with streams and buckets replicated on all three nodes:`,
      ``,
      `      export NATS_URL=${cluster.natsUrl}`,
      `      export SWITCHYARD_STREAM_REPLICAS=3`,
      ``,
      `  Monitoring: ${cluster.monitorUrls.map((u) => `${u}/jsz`).join("  ")}`,
      `  Ctrl-C stops the nodes (their data stays in ${dir}).`,
      ``,
      ``,
    ].join("\n"),
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`nats-cluster: ${signal}, stopping the nodes\n`);
    await cluster.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href)
  await main().catch((err: unknown) => {
    process.stderr.write(`nats-cluster: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
