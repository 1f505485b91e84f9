// The janitor: finds payments left unresolved — a PSP effect whose outcome never came back, a
// command lost with its worker — and re-drives them. Its work list is a durable JetStream consumer
// on PAY_EVT, so it survives restarts and is shared by every worker: a frame that may leave its
// payment open is held (nak with a delay of janitorAfterMs); when it comes back, a payment that has
// moved on (a later frame, or at rest) is let go, and one still open gets a ResumePayment command —
// settle what is open, status query first, never a second charge — and is looked at again later.
import type { ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../config/log.ts";
import type { Metrics } from "../config/metrics.ts";
import { encode } from "../streams/envelopes.ts";
import type { EventStore } from "../streams/event-store.ts";
import { commandSubject, JANITOR_CONSUMER, type Topology } from "../streams/topology.ts";
import { frameMayLeaveOpen, nextEffect } from "./payment/effects.ts";
import type { Journal } from "./payment/journal.ts";
import { RESTING } from "./payment/state.ts";
import type { CommandEnvelope } from "./payment/wire.ts";
import { redeliveryDelayMs } from "./policy/retry.ts";

export type JanitorDeps = {
  js: JetStreamClient;
  topo: Topology;
  store: EventStore;
  journal: Journal;
  metrics: Metrics;
  log: Logger;
  now: () => Date;
};

export class Janitor {
  #messages: ConsumerMessages | undefined;
  #loop: Promise<void> | undefined;
  /** Payments found open at their last look, for the gauge. */
  readonly #open = new Set<string>();

  constructor(private readonly d: JanitorDeps) {}

  async start(): Promise<void> {
    const consumer = await this.d.js.consumers.get(this.d.topo.eventStream, JANITOR_CONSUMER);
    this.#messages = await consumer.consume({ max_messages: 256 });
    this.#loop = this.run(this.#messages);
  }

  private async run(messages: ConsumerMessages): Promise<void> {
    for await (const m of messages) {
      try {
        await this.look(m);
      } catch (err) {
        // NATS or Redis trouble: look again a little later.
        this.d.log.warn({ err, seq: m.seq }, "janitor could not check a payment; later");
        m.nak(5_000);
      }
    }
  }

  private async look(m: JsMsg): Promise<void> {
    const frame = parseFrame(m);
    if (!frame) {
      m.term("not an event frame");
      return;
    }
    const { paymentId } = frame;
    if (m.info.deliveryCount === 1) {
      if (frameMayLeaveOpen(frame.types)) m.nak(this.d.topo.janitorAfterMs);
      else m.ack();
      return;
    }
    const last = await this.d.store.last(paymentId);
    if (last && last.seq > m.seq) return this.done(m, paymentId); // moved on: the later frame is judged itself
    const { state } = await this.d.journal.load(paymentId);
    if (!state || (nextEffect(state) === undefined && RESTING.has(state.status)))
      return this.done(m, paymentId);
    const envelope: CommandEnvelope = {
      v: 1,
      command: {
        type: "ResumePayment",
        paymentId,
        merchantId: state.merchantId,
        reason: `janitor: ${state.status} for over ${this.d.topo.janitorAfterMs} ms`,
        at: this.d.now().toISOString(),
      },
    };
    await this.d.js.publish(commandSubject(this.d.topo, paymentId), encode(envelope), {
      msgID: `resume:${paymentId}:${m.seq}:${m.info.deliveryCount}`,
      timeout: 5_000,
    });
    this.#open.add(paymentId);
    this.d.metrics.janitorStuck.set(this.#open.size);
    this.d.metrics.janitorRedrives.inc();
    this.d.log.warn(
      { paymentId, status: state.status, looks: m.info.deliveryCount - 1 },
      "janitor: payment unresolved; re-driven (status query first)",
    );
    m.nak(Math.max(this.d.topo.janitorAfterMs, redeliveryDelayMs(state.retry, m.info.deliveryCount - 1)));
  }

  private done(m: JsMsg, paymentId: string): void {
    m.ack();
    if (this.#open.delete(paymentId)) this.d.metrics.janitorStuck.set(this.#open.size);
  }

  async stop(): Promise<void> {
    this.#messages?.stop();
    await this.#loop;
  }
}

function parseFrame(m: JsMsg): { paymentId: string; types: string[] } | undefined {
  try {
    const f = m.json<{ paymentId?: unknown; events?: Array<{ type?: unknown }> }>();
    if (typeof f.paymentId !== "string" || !Array.isArray(f.events)) return undefined;
    return { paymentId: f.paymentId, types: f.events.map((e) => String(e?.type)) };
  } catch {
    return undefined;
  }
}
