// The worker's side of PAY_CMD: one durable pull consumer per partition, messages handed to a
// handler concurrently (bounded per partition), and every message settled explicitly: the reply is
// published first, then the ack/nak/term the handler decided. On stop: no new messages, in-flight
// ones finish, then return — so SIGTERM never leaves a half-handled command unsettled.
import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Disposition } from "./disposition.ts";
import { CommandEnvelope, Header, encode, type CommandReply } from "./envelopes.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import { consumerName, type Topology } from "./topology.ts";

export type CommandHandler = (
  envelope: CommandEnvelope,
  meta: { traceparent: string | undefined; deliveryCount: number },
) => Promise<{ disposition: Disposition; reply?: CommandReply }>;

const MAX_IN_FLIGHT_PER_PARTITION = 64;

export class CommandConsumer {
  readonly #iterators: ConsumerMessages[] = [];
  readonly #loops: Promise<void>[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #lagTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly topo: Topology,
    private readonly handler: CommandHandler,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  async start(partitions: readonly number[]): Promise<void> {
    for (const p of partitions) {
      const consumer = await this.js.consumers.get(this.topo.commandStream, consumerName(p));
      const messages = await consumer.consume({ max_messages: MAX_IN_FLIGHT_PER_PARTITION });
      this.#iterators.push(messages);
      this.#loops.push(this.loop(messages));
    }
    this.#lagTimer = setInterval(() => void this.observeLag(partitions), 5_000);
    this.#lagTimer.unref();
  }

  private async loop(messages: ConsumerMessages): Promise<void> {
    const mine = new Set<Promise<void>>();
    for await (const m of messages) {
      const p = this.settle(m).finally(() => {
        mine.delete(p);
        this.#inFlight.delete(p);
      });
      mine.add(p);
      this.#inFlight.add(p);
      if (mine.size >= MAX_IN_FLIGHT_PER_PARTITION) await Promise.race(mine);
    }
  }

  private async settle(m: JsMsg): Promise<void> {
    const parsed = CommandEnvelope.safeParse(safeJson(m));
    if (!parsed.success) {
      this.metrics.commandsRejectedUndecodable.inc();
      this.log.error(
        { subject: m.subject, seq: m.seq, issues: parsed.error?.issues },
        "undecodable command; terminated",
      );
      m.term("undecodable command envelope");
      return;
    }
    let outcome: Awaited<ReturnType<CommandHandler>>;
    // A long command (PSP timeouts, failover) keeps its claim on the message.
    const heartbeat = setInterval(() => m.working(), Math.max(500, this.topo.commandAckWaitMs / 3));
    try {
      outcome = await this.handler(parsed.data, {
        traceparent: m.headers?.get(Header.traceparent) || undefined,
        deliveryCount: m.info.deliveryCount,
      });
    } catch (err) {
      // The actor did not answer in time (or is gone): the command stays ours to retry.
      this.log.warn({ err, subject: m.subject }, "command not handled; nak for redelivery");
      m.nak(1_000);
      return;
    } finally {
      clearInterval(heartbeat);
    }
    const replyTo = m.headers?.get(Header.replyTo);
    if (replyTo && outcome.reply) this.nc.publish(replyTo, encode(outcome.reply));
    const d = outcome.disposition;
    if (d.kind === "ack")
      await m.ackAck().catch((err: unknown) => this.log.warn({ err }, "ack not confirmed"));
    else if (d.kind === "nak") m.nak(d.delayMs);
    else m.term(d.reason);
  }

  private async observeLag(partitions: readonly number[]): Promise<void> {
    for (const p of partitions) {
      try {
        const info = await this.jsm.consumers.info(this.topo.commandStream, consumerName(p));
        this.metrics.consumerPending.set({ partition: String(p) }, info.num_pending);
        this.metrics.consumerAckPending.set({ partition: String(p) }, info.num_ack_pending);
      } catch {
        return; // disconnected or shutting down: try again next round
      }
    }
  }

  /** Stop taking commands, let in-flight ones finish and settle. */
  async stop(): Promise<void> {
    clearInterval(this.#lagTimer);
    for (const it of this.#iterators) it.stop();
    await Promise.allSettled(this.#loops);
    await Promise.allSettled([...this.#inFlight]);
  }
}

function safeJson(m: JsMsg): unknown {
  try {
    return m.json();
  } catch {
    return undefined;
  }
}
