// What the cluster fault tests need beside the worker and projector processes (worker-process.ts):
// the gateway role as a real child process (`node --import tsx gateway/main.ts`, as the Procfile runs
// it), and the view of a three-node JetStream cluster: which node leads a stream (stream info's
// `cluster.leader`; moved by leader step-downs until two streams share one), one node's own copy of
// a stream (its monitoring endpoint's /jsz, which each node answers for itself, unlike the JetStream
// API, which the leader answers), and what the partitions' command consumers say.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { consumerName, type Topology } from "../../streams/topology.ts";
import { waitFor } from "./wait.ts";
import type { Exit } from "./worker-process.ts";

export type GatewayProcess = {
  child: ChildProcess;
  /** Resolves with the gateway's URL once it listens; rejects if it exits first. */
  ready: Promise<string>;
  exited: Promise<Exit>;
  stderr(): string;
  /** SIGKILL if still running. */
  kill(): void;
};

export function startGatewayProcess(env: Record<string, string>, name = "gateway"): GatewayProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "gateway/main.ts"], {
    env: { ...process.env, ...env, LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = once(child, "exit").then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  let stderr = "";
  let partial = "";
  let url: string | undefined;
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdout.on("data", (d: Buffer) => {
    partial += d.toString();
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (url !== undefined || !line.includes("gateway listening")) continue;
      const parsed = JSON.parse(line) as { msg?: string; url?: string };
      if (parsed.msg === "gateway listening") url = parsed.url;
    }
  });
  const ready = Promise.race([
    waitFor(() => url, { timeoutMs: 30_000, what: `${name} to listen` }),
    exited.then((e) => {
      throw new Error(`${name} exited during start-up (${e.code ?? e.signal}): ${stderr}`);
    }),
  ]);
  ready.catch(() => undefined); // observed by the test that awaits it
  return {
    child,
    ready,
    exited,
    stderr: () => stderr,
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

/** The server name leading `stream` (`n1`…), as the JetStream API says; undefined while none does. */
export async function streamLeader(jsm: JetStreamManager, stream: string): Promise<string | undefined> {
  const info = await jsm.streams.info(stream);
  return info.cluster?.leader;
}

/**
 * Moves `other`'s leadership (leader stepdown: the server elects another replica) until the node
 * leading `stream` leads it too; resolves with that node. A step down picks a new leader at random,
 * so this asks again, up to `tries` times. (The client library has no call for it: the API subject.)
 */
export async function leadTogether(
  nc: NatsConnection,
  jsm: JetStreamManager,
  stream: string,
  other: string,
  tries = 20,
): Promise<string> {
  const leader = await streamLeader(jsm, stream);
  for (let i = 0; i < tries; i++) {
    const now = await waitFor(() => streamLeader(jsm, other).catch(() => undefined), {
      timeoutMs: 15_000,
      what: `a leader of ${other}`,
    });
    if (now === leader && leader !== undefined) return leader;
    // The answer may be lost with the old leader's step down: the next round looks again.
    await nc
      .request(`$JS.API.STREAM.LEADER.STEPDOWN.${other}`, undefined, { timeout: 2_000 })
      .catch(() => undefined);
  }
  throw new Error(`${other} still not led by ${String(leader)}, the leader of ${stream}`);
}

/** What the partitions' command consumers say (printed when a fault case fails: where the commands are). */
export async function describeConsumers(jsm: JetStreamManager, topo: Topology): Promise<void> {
  for (let p = 0; p < topo.partitions; p++) {
    try {
      const info = await jsm.consumers.info(topo.commandStream, consumerName(p));
      console.log(
        `        ${consumerName(p)}: leader ${String(info.cluster?.leader)}, pending ${info.num_pending}, ` +
          `ack pending ${info.num_ack_pending}, redelivered ${info.num_redelivered}, pulls waiting ${info.num_waiting}`,
      );
    } catch (err) {
      console.log(`        ${consumerName(p)}: ${(err as Error).message}`);
    }
  }
}

export type NodeStreamState = { messages: number; last_seq: number; first_seq: number };

type Jsz = {
  account_details?: Array<{
    stream_detail?: Array<{ name: string; state?: NodeStreamState; cluster?: { leader?: string } }>;
  }>;
};

/** One node's own copy of `stream` (its /jsz), or undefined when that node holds none. */
export async function nodeStreamState(
  monitorUrl: string,
  stream: string,
): Promise<NodeStreamState | undefined> {
  const res = await fetch(`${monitorUrl}/jsz?accounts=true&streams=true`, {
    signal: AbortSignal.timeout(2_000),
  });
  const jsz = (await res.json()) as Jsz;
  for (const account of jsz.account_details ?? [])
    for (const s of account.stream_detail ?? []) if (s.name === stream) return s.state;
  return undefined;
}
