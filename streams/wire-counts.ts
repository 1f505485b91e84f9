// What one process says on its wires, counted from its own clients: NATS messages and bytes (the
// connection's own statistics), JetStream API requests and deliveries by consumer, Redis commands,
// PostgreSQL statements. For the per-payment budget test (test/e2e/payment-budget.e2e.spec.ts) and
// measurements: counts, unlike timings, do not drift with the machine's load. Nothing is counted
// until `countWire` is called on a process's clients — it wraps those instances (never the
// libraries), so a process that never asks pays nothing; `stop()` puts them back.
// Why on the client: everything server-side is server-wide (a subscription on `$JS.API.>`, /jsz,
// Redis INFO commandstats or MONITOR count every run sharing the servers), and Redis 7.0's CLIENT
// INFO keeps no per-connection command count. The NATS side hooks the protocol handler, the one
// door every message goes in and out by (acks are published there directly, not by `publish()`).
// A SQL statement is counted as postgres.js sends it; statements it pipelines still count one each.
import type { NatsConnection } from "@nats-io/transport-node";
import type { Redis } from "ioredis";
import type { Sql } from "./db/client.ts";

export type WireCounts = {
  nats: {
    /** Messages delivered to this connection (every subscription), and their bytes. */
    inMsgs: number;
    inBytes: number;
    /** Messages published by this connection (acks and requests included), and their bytes. */
    outMsgs: number;
    outBytes: number;
    /** Requests on `$JS.API.>` (stream/consumer management, pulls, direct gets), by operation. */
    jsApi: number;
    jsApiByOp: Record<string, number>;
    /** Messages published, by kind (`$JS.API`, `$JS.ACK`, `$KV`, `_INBOX`, or the subject's first tokens). */
    outByKind: Record<string, number>;
    /** JetStream deliveries to this connection, by `<stream>/<consumer>` (ephemeral names collapsed). */
    deliveredByConsumer: Record<string, number>;
  };
  redis: { commands: number; byCommand: Record<string, number> };
  /**
   * Statements sent (each its own round trip unless pipelined), by their first words; `texts`: how
   * many distinct statement texts were sent for the first time (a text new to a connection costs a
   * Parse and Describe round trip before its Bind: a VALUES list sized by the batch is one per size).
   */
  pg: { statements: number; transactions: number; texts: number; byStatement: Record<string, number> };
};

export type WireCounter = {
  read(): WireCounts;
  stop(): void;
};

type Clients = { nc: NatsConnection; redis: Redis; db: { sql: Sql } };

type ProtocolLike = {
  publish: (subject: string, payload?: unknown, options?: unknown) => void;
  processMsg: (msg: { subject: Uint8Array; reply?: Uint8Array }, data: Uint8Array) => void;
};

const decoder = new TextDecoder();

export function countWire(c: Clients): WireCounter {
  const jsApiByOp: Record<string, number> = {};
  const outByKind: Record<string, number> = {};
  const deliveredByConsumer: Record<string, number> = {};
  const byCommand: Record<string, number> = {};
  const byStatement: Record<string, number> = {};
  let jsApi = 0;
  let redisCommands = 0;
  let pgStatements = 0;
  let pgTransactions = 0;
  const pgTexts = new Set<string>();
  const bump = (m: Record<string, number>, k: string) => {
    m[k] = (m[k] ?? 0) + 1;
  };

  // Every message this connection publishes (acks included) leaves through its protocol handler.
  const proto = (c.nc as unknown as { protocol: ProtocolLike }).protocol;
  const publish = proto.publish;
  const processMsg = proto.processMsg;
  proto.publish = function (subject, payload, options) {
    if (subject.startsWith("$JS.API.")) {
      jsApi += 1;
      bump(jsApiByOp, apiOp(subject));
    }
    bump(outByKind, kindOf(subject));
    publish.call(proto, subject, payload, options);
  };
  proto.processMsg = function (msg, data) {
    const reply = msg.reply && msg.reply.length > 0 ? decoder.decode(msg.reply) : "";
    if (reply.startsWith("$JS.ACK.")) bump(deliveredByConsumer, consumerOf(reply));
    processMsg.call(proto, msg, data);
  };

  const redis = c.redis as unknown as {
    sendCommand: (command: { name: string }, ...rest: unknown[]) => unknown;
  };
  const sendCommand = redis.sendCommand;
  redis.sendCommand = function (command, ...rest) {
    redisCommands += 1;
    bump(byCommand, command.name);
    return sendCommand.call(c.redis, command, ...rest);
  };

  // postgres.js reads `options.debug` for every statement it sends.
  const options = c.db.sql.options as unknown as { debug: unknown };
  const debug = options.debug;
  options.debug = (_connection: number, query: string) => {
    pgStatements += 1;
    pgTexts.add(query);
    if (/^\s*begin\b/i.test(query)) pgTransactions += 1;
    bump(byStatement, query.replace(/\s+/g, " ").trim().slice(0, 60));
  };

  const base = c.nc.stats();
  return {
    read() {
      const s = c.nc.stats();
      return {
        nats: {
          inMsgs: s.inMsgs - base.inMsgs,
          inBytes: s.inBytes - base.inBytes,
          outMsgs: s.outMsgs - base.outMsgs,
          outBytes: s.outBytes - base.outBytes,
          jsApi,
          jsApiByOp: { ...jsApiByOp },
          outByKind: { ...outByKind },
          deliveredByConsumer: { ...deliveredByConsumer },
        },
        redis: { commands: redisCommands, byCommand: { ...byCommand } },
        pg: {
          statements: pgStatements,
          transactions: pgTransactions,
          texts: pgTexts.size,
          byStatement: { ...byStatement },
        },
      };
    },
    stop() {
      proto.publish = publish;
      proto.processMsg = processMsg;
      redis.sendCommand = sendCommand;
      options.debug = debug;
    },
  };
}

/** `b - a`, field by field (the maps key by key, zeros left out). */
export function wireDelta(a: WireCounts, b: WireCounts): WireCounts {
  const map = (x: Record<string, number>, y: Record<string, number>) =>
    Object.fromEntries(
      Object.entries(y)
        .map(([k, v]) => [k, v - (x[k] ?? 0)] as const)
        .filter(([, v]) => v !== 0),
    );
  return {
    nats: {
      inMsgs: b.nats.inMsgs - a.nats.inMsgs,
      inBytes: b.nats.inBytes - a.nats.inBytes,
      outMsgs: b.nats.outMsgs - a.nats.outMsgs,
      outBytes: b.nats.outBytes - a.nats.outBytes,
      jsApi: b.nats.jsApi - a.nats.jsApi,
      jsApiByOp: map(a.nats.jsApiByOp, b.nats.jsApiByOp),
      outByKind: map(a.nats.outByKind, b.nats.outByKind),
      deliveredByConsumer: map(a.nats.deliveredByConsumer, b.nats.deliveredByConsumer),
    },
    redis: {
      commands: b.redis.commands - a.redis.commands,
      byCommand: map(a.redis.byCommand, b.redis.byCommand),
    },
    pg: {
      statements: b.pg.statements - a.pg.statements,
      transactions: b.pg.transactions - a.pg.transactions,
      texts: b.pg.texts - a.pg.texts,
      byStatement: map(a.pg.byStatement, b.pg.byStatement),
    },
  };
}

/**
 * `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` → `CONSUMER.MSG.NEXT <stream>`: the operation and
 * the stream it names (no consumer, subject or entity, which vary from run to run).
 */
function apiOp(subject: string): string {
  const t = subject.split(".").slice(2);
  const words = t[1] === "MSG" ? 3 : 2;
  const stream = t[words];
  // A direct get by subject names the subject after the stream: its last message.
  const op = t[0] === "DIRECT" && t.length > words + 1 ? "DIRECT.GET.LAST" : t.slice(0, words).join(".");
  return stream === undefined ? op : `${op} ${stream}`;
}

function kindOf(subject: string): string {
  if (subject.startsWith("$JS.API.")) return "$JS.API";
  if (subject.startsWith("$JS.ACK.")) return "$JS.ACK";
  if (subject.startsWith("$KV.")) return "$KV";
  if (subject.startsWith("_INBOX.")) return "_INBOX";
  // <prefix>.pay.evt.<id> → <prefix>.pay.evt: the subject space, not the entity nor the partition.
  return subject.split(".").slice(0, 3).join(".");
}

/** `$JS.ACK.<stream>.<consumer>.…` (or the v2 form with domain and account hash) → `<stream>/<consumer>`. */
function consumerOf(reply: string): string {
  const t = reply.split(".");
  // $JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<n>.<sseq>.<cseq>.<ts>.<pending>[.<random>]
  const [stream, consumer] = t.length >= 12 ? [t[4], t[5]] : [t[2], t[3]];
  return `${stream ?? "?"}/${ephemeral(consumer ?? "?")}`;
}

/** Ordered and other ephemeral consumers get random names (nuid-like): one bucket for them all. */
function ephemeral(name: string): string {
  return /^[A-Za-z0-9]{22}(_\d+)?$/.test(name) ? "(ephemeral)" : name;
}
