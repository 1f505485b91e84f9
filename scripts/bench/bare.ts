// The bare flow: the bench's same-run yardstick for the product. The same steps a payment takes
// through Switchyard, written directly and nothing else — no schema validation beyond presence, no
// policies, no metrics, no logging, no actors, no card sealing — so that "product ÷ bare" on one
// machine in one run says what the product's own code costs, apart from what the design
// (HTTP → JetStream → partitioned consumers → fenced event appends → PSP → reply) costs anyway.
//
// The steps, in order, as the product does them:
//   fastify POST /v1/payments → js.publish of the command (Nats-Msg-Id) on
//   `<prefix>.bare.cmd.<partition>.<id>` in a work-queue stream (file storage) → one durable pull
//   consumer per partition (consume(), in-flight bounded per partition like the product's) →
//   fenced intent append to an events stream (expect.lastSubjectSequence 0, msgID) → one PSP call
//   over HTTP → fenced result append (expect.lastSubjectSequence = the intent's seq) → reply to the
//   gateway's inbox (in memory: the gateway is in this process, as the product's in the bench) → ack
//   of the command → 201 to the client.
// What the product does that this leaves out on purpose: the activation read (a direct get of the
// payment's last event: the fence at sequence 0 already rejects a second create), card sealing,
// routing, fees, circuit bookkeeping, metrics, logs, snapshots.
//
// The PSP client is node:http with a keep-alive Agent, not fetch: fetch (undici) costs more CPU per
// call in Node 20 and the point here is the cheapest way to do the same step. The ack is a plain
// ack, as the product's (a lost ack is an idempotent redelivery), and the connection is set up as
// the product's (no async stack traces: an Error per request otherwise), so the yardstick is not
// softened by costs the product does not pay.
import { Agent, request } from "node:http";
import type { AddressInfo } from "node:net";
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type ConsumerMessages,
  type JsMsg,
} from "@nats-io/jetstream";
import { connect, headers } from "@nats-io/transport-node";
import Fastify from "fastify";
import { fnv1a32 } from "../../streams/topology.ts";

/** Stream names of a run's bare flow (cleanup.ts deletes them and sweeps them after killed runs). */
export const bareStreamNames = (prefix: string) => ({
  commands: `${prefix}_BARE_CMD`,
  events: `${prefix}_BARE_EVT`,
});

/** The product's bound (streams/command-consumer.ts), so both hold the same work in flight. */
const MAX_IN_FLIGHT_PER_PARTITION = 64;
const REPLY_WAIT_MS = 10_000;
const TWO_MINUTES_NS = 2 * 60 * 1_000_000_000;
const REPLY_TO = "Bare-Reply-To";

export type BareOptions = {
  natsUrl: string;
  prefix: string;
  partitions: number;
  /** The PSP's base URL: the bench's outside process serves POST /authorize there. */
  pspUrl: string;
};

export type BareFlow = {
  url: string;
  streams: { commands: string; events: string };
  stop(): Promise<void>;
};

type Command = { id: string; amount: unknown; currency: unknown };

export async function startBare(opts: BareOptions): Promise<BareFlow> {
  const stops: Array<() => Promise<void> | void> = [];
  const stop = async () => {
    for (const s of stops.reverse()) {
      try {
        await s();
      } catch {
        // stopping is best effort: the next step still runs, and cleanup checks the streams are gone
      }
    }
    stops.length = 0;
  };
  try {
    return await start(opts, stops, stop);
  } catch (err) {
    await stop();
    throw err;
  }
}

async function start(
  opts: BareOptions,
  stops: Array<() => Promise<void> | void>,
  stop: () => Promise<void>,
): Promise<BareFlow> {
  const { prefix, partitions } = opts;
  const streams = bareStreamNames(prefix);
  const cmdBase = `${prefix}.bare.cmd`;
  const evtBase = `${prefix}.bare.evt`;
  const inbox = `${prefix}.bare.reply.${Math.random().toString(36).slice(2)}`;

  // One connection for gateway and worker, like the product when its roles share a process.
  const nc = await connect({ servers: opts.natsUrl, name: "switchyard-bench-bare", noAsyncTraces: true });
  stops.push(() => nc.drain().catch(() => nc.close()));
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  // Configured like the product's PAY_CMD / PAY_EVT where it costs the server something.
  await jsm.streams.add({
    name: streams.commands,
    subjects: [`${cmdBase}.>`],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    num_replicas: 1,
    discard: DiscardPolicy.Old,
    duplicate_window: TWO_MINUTES_NS,
  });
  await jsm.streams.add({
    name: streams.events,
    subjects: [`${evtBase}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: 1,
    allow_direct: true,
    duplicate_window: TWO_MINUTES_NS,
  });

  // The PSP: the bench's outside process (scripts/bench/outside.ts), a minimal authorizer.
  const pspUrl = new URL(opts.pspUrl);
  const pspAgent = new Agent({ keepAlive: true });
  stops.push(() => pspAgent.destroy());

  const authorize = (c: Command): Promise<boolean> =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify({ amount: c.amount, currency: c.currency, reference: c.id });
      const req = request(
        {
          host: pspUrl.hostname,
          port: pspUrl.port,
          path: "/authorize",
          method: "POST",
          agent: pspAgent,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (s: string) => (text += s));
          res.on("error", reject);
          res.on("end", () => resolve((JSON.parse(text) as { status?: string }).status === "authorized"));
        },
      );
      req.on("error", reject);
      req.end(body);
    });

  // The reply: in memory to this process's gateway, as the product's worker answers a bus of its own
  // process (replyInProcess in streams/command-bus.ts); over core NATS to any other inbox.
  const answer = (replyTo: string, text: string): void => {
    if (replyTo.startsWith(`${inbox}.`)) waiters.get(replyTo.slice(inbox.length + 1))?.(Buffer.from(text));
    else nc.publish(replyTo, text);
  };

  // The worker: one durable pull consumer per partition.
  const handle = async (m: JsMsg): Promise<void> => {
    const replyTo = m.headers?.get(REPLY_TO);
    try {
      const c = m.json<Command>();
      const subject = `${evtBase}.${c.id}`;
      const intent = await js.publish(
        subject,
        JSON.stringify({ type: "AuthorizationRequested", id: c.id, amount: c.amount, currency: c.currency }),
        { msgID: `${c.id}:1`, expect: { lastSubjectSequence: 0, streamName: streams.events } },
      );
      const authorized = await authorize(c);
      const status = authorized ? "captured" : "declined";
      await js.publish(subject, JSON.stringify({ type: authorized ? "Captured" : "Declined", id: c.id }), {
        msgID: `${c.id}:2`,
        expect: { lastSubjectSequence: intent.seq, streamName: streams.events },
      });
      if (replyTo)
        answer(replyTo, JSON.stringify({ id: c.id, status, amount: c.amount, currency: c.currency }));
      m.ack();
    } catch (err) {
      // No retries here: a failure is reported to the waiting client at once and the command dropped.
      if (replyTo) answer(replyTo, JSON.stringify({ error: String(err) }));
      m.term();
    }
  };
  const iterators: ConsumerMessages[] = [];
  const loops: Promise<void>[] = [];
  for (let p = 0; p < partitions; p++) {
    const name = `bare-p${String(p).padStart(3, "0")}`;
    await jsm.consumers.add(streams.commands, {
      durable_name: name,
      filter_subject: `${cmdBase}.${p}.>`,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: 30_000_000_000,
      max_ack_pending: 1000,
    });
    const consumer = await js.consumers.get(streams.commands, name);
    const messages = await consumer.consume({ max_messages: MAX_IN_FLIGHT_PER_PARTITION });
    iterators.push(messages);
    loops.push(
      (async () => {
        const inFlight = new Set<Promise<void>>();
        for await (const m of messages) {
          const done: Promise<void> = handle(m).finally(() => inFlight.delete(done));
          inFlight.add(done);
          if (inFlight.size >= MAX_IN_FLIGHT_PER_PARTITION) await Promise.race(inFlight);
        }
        await Promise.allSettled(inFlight);
      })(),
    );
  }
  stops.push(async () => {
    for (const it of iterators) it.stop();
    await Promise.allSettled(loops);
  });

  // The gateway: replies arrive on one inbox subscription, matched to the waiting request by token.
  const waiters = new Map<string, (reply: Uint8Array | null) => void>();
  const sub = nc.subscribe(`${inbox}.*`, {
    callback: (err, msg) => {
      if (!err) waiters.get(msg.subject.slice(inbox.length + 1))?.(msg.data);
    },
  });
  stops.push(() => sub.unsubscribe());
  let nextToken = 0;

  const app = Fastify({ logger: false });
  app.post("/v1/payments", async (req, reply) => {
    const key = req.headers["idempotency-key"];
    const body = req.body as { amount?: unknown; currency?: unknown } | null;
    if (!req.headers.authorization || typeof key !== "string" || !body || body.amount === undefined)
      return reply.code(400).send({ error: "missing authorization, idempotency-key or amount" });
    // The id derives from the idempotency key (subject-safe), so a retried request is the same payment.
    const id = Buffer.from(key).toString("base64url");
    const partition = fnv1a32(id) % partitions;
    const token = String(nextToken++);
    const h = headers();
    h.set(REPLY_TO, `${inbox}.${token}`);
    let timer: NodeJS.Timeout | undefined;
    const replied = new Promise<Uint8Array | null>((resolve) => {
      waiters.set(token, resolve);
      timer = setTimeout(() => resolve(null), REPLY_WAIT_MS);
    });
    try {
      const command: Command = { id, amount: body.amount, currency: body.currency };
      await js.publish(`${cmdBase}.${partition}.${id}`, JSON.stringify(command), {
        msgID: id,
        headers: h,
        timeout: 5_000,
      });
      const data = await replied;
      if (data === null) return reply.code(202).send({ id, status: "created" });
      const answer = JSON.parse(Buffer.from(data).toString("utf8")) as { error?: string };
      return reply.code(answer.error === undefined ? 201 : 502).send(answer);
    } finally {
      clearTimeout(timer);
      waiters.delete(token);
    }
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  // Closed before the worker stops (stops run in reverse), so no request waits on a stopped consumer.
  stops.push(() => app.close());
  const port = (app.server.address() as AddressInfo).port;

  return { url: `http://127.0.0.1:${port}`, streams, stop };
}
