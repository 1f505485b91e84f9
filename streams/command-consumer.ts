// The worker's side of PAY_CMD: one durable pull consumer per partition, messages handed to a
// handler concurrently (bounded per partition), and every message settled explicitly: the reply is
// published first, then the ack / nak-with-delay / dead letter the handler decided. The consumer
// knows frames, not payments: the handler gets the decoded JSON and parses it, and decides nothing
// itself: its own failures (a handler that threw, a dead letter PAY_DLQ refused) are settled as the
// ConsumerFate it is given says (actors/fate.ts, which also applies max_deliver). On stop: no new
// messages, in-flight ones finish, then return — so SIGTERM never leaves a half-handled command
// unsettled. Partitions start and stop one at a time while the worker runs (its leases come and go:
// actors/ownership.ts), and with a `holds` check a command is handed over, and acknowledged, only
// while this worker still holds its partition's lease; otherwise it goes back to the stream for the
// partition's owner.
import type {
  Consumer,
  ConsumerMessages,
  JetStreamClient,
  JetStreamManager,
  JsMsg,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../config/log.ts";
import type { Metrics } from "../config/metrics.ts";
import { SpanKind, endSpan, startSpan, traceparentOf, withSpan } from "../config/tracing.ts";
import { replyInProcess } from "./command-bus.ts";
import { durablePulls } from "./durable-pulls.ts";
import { deadLetterMessage, type DeadLetterDeps } from "./command-dead-letter.ts";
import { drainDeliveries } from "./consumer-drain.ts";
import type { DeadLetters } from "./dead-letters.ts";
import type { ConsumerFate, Delivery, Disposition } from "./disposition.ts";
import { Header, encode } from "./envelopes.ts";
import { consumerName, parseCommandSubject, replyAllowed, type Topology } from "./topology.ts";
import { extractContext } from "./trace-headers.ts";

/** `storedAtMs`: when JetStream stored the command (its clock, the same on every redelivery). */
export type CommandMeta = Delivery & { traceparent: string | undefined; subject: string; storedAtMs: number };

/**
 * `raw` is the message body as JSON, or `undefined` when it is not JSON at all; `data` its bytes
 * (what the worker scans for card numbers, whatever they parse as).
 */
export type CommandHandler = (
  raw: unknown,
  meta: CommandMeta,
  data: Uint8Array,
) => Promise<{ disposition: Disposition; reply?: unknown }>;

const MAX_IN_FLIGHT_PER_PARTITION = 64;
/**
 * A command that reached a partition being given up, or one whose lease is gone, is nak'ed with this
 * delay: long enough that this worker has stopped pulling (a nak without delay would come straight
 * back to the pull still open, and count a delivery each time), short enough for the new owner.
 */
export const HANDOVER_NAK_DELAY_MS = 1_000;
/** How often the partitions' pending and ack-pending gauges are refreshed. */
const LAG_EVERY_MS = 5_000;
/** Up to this many subjects holding commands, the lag round lists them (see observeLag). */
const LAG_SUBJECTS_MAX = 256;

/** One partition's consumption: its message iterator, its loop, its commands in flight. */
type Running = {
  messages: ConsumerMessages;
  /** Asked, when the partition is given up, how far the server has delivered. */
  consumer: Consumer;
  /** The highest delivery (consumer) sequence this client has seen come out of the iterator. */
  lastDelivery: number;
  loop: Promise<void>;
  inFlight: Set<Promise<void>>;
  /** Set when the partition is being given up: what still comes out of the iterator goes back. */
  leaving: boolean;
  /** Resolves when `leaving` is set, so a loop waiting for a free slot goes on to send back its buffer. */
  left: Promise<void>;
  leave: () => void;
  /** Resolves once the loop ended and every command it took is settled. */
  stopped: Promise<void> | undefined;
};

export class CommandConsumer {
  #stopping = false;
  readonly #parts = new Map<number, Running>();
  /** Partitions being started (consumer looked up), so a stop waits for the start to finish. */
  readonly #starting = new Map<number, Promise<void>>();
  #lagTimer: NodeJS.Timeout | undefined;
  /** The gauges last set all read 0 (nothing is waiting or unacknowledged on our partitions). */
  #lagZero = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly topo: Topology,
    private readonly handler: CommandHandler,
    private readonly deadLetters: DeadLetters,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly opts: {
      fate: ConsumerFate;
      lagEveryMs?: number;
      /**
       * Whether this worker still holds the partition's lease (a cheap local check, asked before a
       * command is handed over and before it is acknowledged). Absent: every partition is ours.
       */
      holds?: (partition: number) => boolean;
      /**
       * Masks what must never be stored or logged in clear (card numbers) in a subject or a body: the
       * worker's rule (streams/ knows none). Absent: nothing is masked.
       */
      redact?: (text: string) => string;
    },
  ) {
    this.#dead = {
      jsm,
      topo,
      deadLetters,
      metrics,
      log,
      fate: opts.fate,
      redact: opts.redact ?? ((t) => t),
      stopping: () => this.#stopping,
    };
  }

  readonly #dead: DeadLetterDeps;

  /** Starts consuming `partitions` (all of them: one worker alone) and the lag gauges. */
  async start(partitions: readonly number[]): Promise<void> {
    await Promise.all(partitions.map((p) => this.startPartition(p)));
    this.#startLag();
  }

  /** The partitions being consumed now (a partition being given up included until it is). */
  partitions(): number[] {
    return [...this.#parts.keys()].sort((a, b) => a - b);
  }

  /** Starts consuming one partition (no-op if it already is; waits for a stop under way first). */
  async startPartition(p: number): Promise<void> {
    if (this.#stopping) return;
    await this.#parts.get(p)?.stopped;
    const pending = this.#starting.get(p);
    if (pending) return pending;
    if (this.#parts.has(p)) return;
    const started = (async () => {
      const consumer = await this.js.consumers.get(this.topo.commandStream, consumerName(p));
      const messages = await consumer.consume({
        max_messages: MAX_IN_FLIGHT_PER_PARTITION,
        ...durablePulls(this.topo.replicas),
      });
      let leave = () => {};
      const left = new Promise<void>((resolve) => (leave = resolve));
      const run: Running = {
        messages,
        consumer,
        lastDelivery: 0,
        inFlight: new Set(),
        leaving: false,
        left,
        leave,
        stopped: undefined,
        loop: Promise.resolve(),
      };
      run.loop = this.loop(p, run);
      this.#parts.set(p, run);
    })().finally(() => this.#starting.delete(p));
    this.#starting.set(p, started);
    this.#startLag();
    return started;
  }

  /**
   * Stops taking the partition's commands and resolves once those in flight are settled: what the
   * client had already pulled and not handed over goes back to the stream (nak) rather than waiting
   * out the ack wait. Only then may the partition's lease be given up.
   */
  async stopPartition(p: number): Promise<void> {
    await this.#starting.get(p)?.catch(() => undefined);
    const run = this.#parts.get(p);
    if (!run) return;
    if (!run.stopped) {
      run.leaving = true;
      run.leave();
      run.stopped = (async () => {
        // The loop sends back what the client has buffered within microtasks (each one a nak); the
        // iterator is ended once that is done and nothing the server sent is still on its way.
        await drainDeliveries(this.nc, run.consumer, () => run.lastDelivery);
        run.messages.stop();
        await run.loop.catch(() => undefined);
        await Promise.allSettled([...run.inFlight]);
        this.#parts.delete(p);
      })();
    }
    await run.stopped;
  }

  #startLag(): void {
    if (this.#lagTimer || this.#stopping) return;
    this.#lagTimer = setInterval(
      () => void this.observeLag(this.partitions()),
      this.opts.lagEveryMs ?? LAG_EVERY_MS,
    );
    this.#lagTimer.unref();
  }

  private async loop(partition: number, run: Running): Promise<void> {
    const { messages, inFlight } = run;
    for await (const m of messages) {
      if (m.info.deliverySequence > run.lastDelivery) run.lastDelivery = m.info.deliverySequence;
      // Being given up, or no longer held: back to the stream for the partition's owner.
      if (run.leaving || !this.#holds(partition)) {
        m.nak(HANDOVER_NAK_DELAY_MS);
        continue;
      }
      const p = this.settle(m, partition).finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= MAX_IN_FLIGHT_PER_PARTITION) await Promise.race([...inFlight, run.left]);
    }
  }

  #holds(partition: number): boolean {
    return this.opts.holds?.(partition) ?? true;
  }

  private async settle(m: JsMsg, partition: number): Promise<void> {
    // Tracing on: the handling is a child of the publish, and what the actor does (event appends,
    // PSP calls) is a child of the handling: the actor gets this span's traceparent.
    const span = startSpan(
      `process ${this.topo.commandStream}`,
      SpanKind.CONSUMER,
      m.headers === undefined ? undefined : extractContext(m.headers),
      { "messaging.system": "nats", "messaging.destination.name": m.subject },
    );
    span?.setAttribute("messaging.nats.delivery_count", m.info.deliveryCount);
    try {
      await withSpan(span, () =>
        this.handle(m, partition, span === undefined ? undefined : traceparentOf(span)),
      );
    } finally {
      endSpan(span);
    }
  }

  private async handle(m: JsMsg, partition: number, spanTraceparent: string | undefined): Promise<void> {
    const meta: CommandMeta = {
      traceparent: spanTraceparent ?? (m.headers?.get(Header.traceparent) || undefined),
      deliveryCount: m.info.deliveryCount,
      maxDeliver: this.topo.commandMaxDeliver,
      subject: m.subject,
      storedAtMs: Math.floor(m.info.timestampNanos / 1_000_000),
    };
    let outcome: Awaited<ReturnType<CommandHandler>>;
    const raw = safeJson(m);
    // A long command (PSP timeouts, failover) keeps its claim on the message.
    const heartbeat = setInterval(() => m.working(), Math.max(500, this.topo.commandAckWaitMs / 3));
    try {
      outcome = await this.handler(raw, meta, m.data);
    } catch (err) {
      // The handler threw instead of answering: the command stays ours, settled as the rule says.
      this.log.warn(
        { err, subject: this.#dead.redact(m.subject) },
        "command not handled; nak for redelivery",
      );
      outcome = { disposition: this.opts.fate({ kind: "handler_failed" }, meta) };
    } finally {
      clearInterval(heartbeat);
    }
    if (!this.#holds(partition)) {
      // The lease lapsed while the command ran (a pause, a lost connection): this worker may no
      // longer settle it. Back to the stream: the partition's new owner decides it again from what
      // the event store holds (what this worker appended, if anything, is there).
      this.log.warn(
        { subject: this.#dead.redact(m.subject), partition },
        "partition lease lost mid-command; nak for its owner",
      );
      m.nak(HANDOVER_NAK_DELAY_MS);
      return;
    }
    const replyTo = m.headers?.get(Header.replyTo);
    if (replyTo && outcome.reply !== undefined) this.reply(m, raw, replyTo, outcome.reply);
    const d = outcome.disposition;
    if (d.kind === "ack") m.ack();
    else if (d.kind === "nak") m.nak(d.delayMs);
    else await deadLetterMessage(this.#dead, m, d, meta);
  }

  /**
   * Answers on `replyTo` only if it is the platform's inbox or one of the sender's merchant: the
   * merchant the server let it publish for (the subject's token), or on the old subject layout the
   * command's own. Anywhere else: not sent, counted and logged; the command is handled all the same.
   */
  private reply(m: JsMsg, raw: unknown, replyTo: string, reply: unknown): void {
    const merchant = parseCommandSubject(this.topo, m.subject)?.merchant ?? merchantIdOf(raw);
    if (replyAllowed(this.topo, replyTo, merchant)) {
      const data = encode(reply);
      if (!replyInProcess(replyTo, data)) this.nc.publish(replyTo, data);
      return;
    }
    this.metrics.commandRepliesRefused.inc();
    // Not the reply subject itself: it is the sender's text, and could hold anything.
    this.log.warn(
      { subject: this.#dead.redact(m.subject), seq: m.seq, replyToLength: replyTo.length },
      "command asked for a reply outside its sender's inbox; not sent",
    );
  }

  /**
   * The partitions' consumer gauges. PAY_CMD is a work queue: a command leaves the stream when it is
   * acknowledged, so a partition with no command stored has nothing pending and nothing
   * unacknowledged. One stream info says whether anything is stored at all (idle: nothing more is
   * asked); when a few subjects hold commands, a second one lists them and only their partitions
   * are asked for their consumer's numbers; past LAG_SUBJECTS_MAX, every partition is. A consumer
   * info per partition every round was most of an idle worker's JetStream requests, and at one
   * client ~0.6 consumer infos per payment.
   */
  private async observeLag(partitions: readonly number[]): Promise<void> {
    let stored: ReadonlySet<number> | undefined;
    try {
      const info = await this.jsm.streams.info(this.topo.commandStream);
      if (info.state.messages === 0) stored = new Set();
      else if ((info.state.num_subjects ?? Infinity) <= LAG_SUBJECTS_MAX) {
        const listed = await this.jsm.streams.info(this.topo.commandStream, {
          subjects_filter: `${this.topo.commandBase}.>`,
        });
        stored = new Set(Object.keys(listed.state.subjects ?? {}).map((s) => this.partitionOf(s)));
      }
    } catch {
      return; // disconnected or shutting down: try again next round
    }
    if (stored?.size === 0 && this.#lagZero) return;
    this.#lagZero = stored?.size === 0;
    for (const p of partitions) {
      const labels = { partition: String(p) };
      if (stored !== undefined && !stored.has(p)) {
        this.metrics.consumerPending.set(labels, 0);
        this.metrics.consumerAckPending.set(labels, 0);
        continue;
      }
      try {
        const info = await this.jsm.consumers.info(this.topo.commandStream, consumerName(p));
        this.metrics.consumerPending.set(labels, info.num_pending);
        this.metrics.consumerAckPending.set(labels, info.num_ack_pending);
      } catch {
        return; // disconnected or shutting down: try again next round
      }
    }
  }

  /** The partition of a command subject, `<commandBase>.<partition>.<paymentId>` (-1 if none). */
  private partitionOf(subject: string): number {
    const token = subject.slice(this.topo.commandBase.length + 1).split(".", 1)[0];
    const p = Number(token);
    return Number.isInteger(p) ? p : -1;
  }

  /** Stop taking commands, let in-flight ones finish and settle. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#lagTimer);
    await Promise.allSettled([...this.#starting.values()]);
    await Promise.all([...this.#parts.keys()].map((p) => this.stopPartition(p)));
  }
}

function merchantIdOf(raw: unknown): string | undefined {
  const command = (raw as { command?: { merchantId?: unknown } } | undefined)?.command;
  return typeof command?.merchantId === "string" ? command.merchantId : undefined;
}

function safeJson(m: JsMsg): unknown {
  try {
    return m.json();
  } catch {
    return undefined;
  }
}
